/**
 * JSON.parse for untrusted input. V8's own messages quote the text around the error
 * (`Unexpected token 'h', "hunter2…" is not valid JSON`), and that text is often the very secret
 * Sentinel exists to contain; these messages give the position only.
 */
export class InvalidJsonError extends Error {
  override name = 'InvalidJsonError';
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message)?.[1];
    if (/Unexpected end of JSON input/.test(message)) throw new InvalidJsonError(`not valid JSON: it ends early (${text.length} characters)`);
    throw new InvalidJsonError(`not valid JSON${at !== undefined ? ` at position ${at}` : ''} (${text.length} characters)`);
  }
}
