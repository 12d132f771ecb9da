/**
 * Sentinel's search attributes on a namespace: checked by the detector before it starts incidents
 * (a start that names an unregistered attribute fails with INVALID_ARGUMENT every time), registered
 * by `sentinel setup`.
 */
import type { ConnectionLike } from '@temporalio/client';
import proto from '@temporalio/proto';
import { allSearchAttributes } from '../../contract';

const { IndexedValueType } = proto.temporal.api.enums.v1;

/** The shell commands that register the attributes with the Temporal CLI. */
export function registerCommands(namespace: string): string {
  return allSearchAttributes
    .map((k) => `temporal operator search-attribute create --namespace ${namespace} --name ${k.name} --type ${k.type === 'KEYWORD_LIST' ? 'KeywordList' : 'Keyword'}`)
    .join('\n');
}

/** Says how to fix a namespace without the attributes. */
export function setupHint(namespace: string): string {
  return `register them with "sentinel setup" (TEMPORAL_NAMESPACE=${namespace}), or with the Temporal CLI:\n${registerCommands(namespace)}`;
}

export class NamespaceSetupError extends Error {
  override name = 'NamespaceSetupError';
}

/**
 * The Sentinel attributes `namespace` lacks (empty: all there). Throws NamespaceSetupError when the
 * namespace does not exist; other errors (an operator API the credentials may not use) propagate.
 */
export async function missingSearchAttributes(connection: Pick<ConnectionLike, 'operatorService'>, namespace: string): Promise<string[]> {
  let custom: Record<string, unknown>;
  try {
    custom = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (err) {
    if ((err as { code?: number }).code === 5) throw new NamespaceSetupError(`Temporal namespace "${namespace}" does not exist (TEMPORAL_NAMESPACE): create it with "temporal operator namespace create --namespace ${namespace}"`);
    throw err;
  }
  return allSearchAttributes.filter((k) => custom[k.name] === undefined).map((k) => k.name);
}

/** Registers the attributes `namespace` lacks; answers the names it added. */
export async function registerSearchAttributes(connection: Pick<ConnectionLike, 'operatorService'>, namespace: string): Promise<string[]> {
  const missing = new Set(await missingSearchAttributes(connection, namespace));
  if (missing.size === 0) return [];
  const searchAttributes = Object.fromEntries(
    allSearchAttributes.filter((k) => missing.has(k.name)).map((k) => [k.name, k.type === 'KEYWORD_LIST' ? IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
  );
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  return [...missing];
}
