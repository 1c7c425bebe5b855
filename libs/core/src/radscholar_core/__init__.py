"""RadScholar core runtime shared by every service: settings, logging, gRPC server, errors,
object store, database helpers and the job model."""
