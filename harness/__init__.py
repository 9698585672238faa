"""Running the service's pieces as real processes on this machine, for the tests and the
benchmark alike: a private Azurite, the local Functions host, and waiting with a deadline."""
