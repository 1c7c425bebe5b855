"""RadScholar gateway: the only REST surface. Forwards to the services through their gRPC stubs."""
