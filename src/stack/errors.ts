/** A dev-stack problem a person can fix: the message says what is wrong and what to do. */
export class StackError extends Error {
  override name = 'StackError';
}
