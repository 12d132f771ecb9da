/**
 * A server Sentinel needs could not be reached. Its own module, free of any client library: a
 * process that only talks to NATS must not load the Temporal SDK to report that NATS is away.
 */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}
