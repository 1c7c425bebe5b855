"""One router module per resource; handlers are thin: REST model -> gRPC request -> REST model."""
