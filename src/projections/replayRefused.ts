/**
 * A selective rebuild or scratch replay refused before it changed anything: bad arguments,
 * a table it must not touch, a stream of another type. The CLI prints the message and
 * exits 2, without a stack trace.
 */
export class ReplayRefusedError extends Error {
  override readonly name = 'ReplayRefusedError';
}
