/** `sentinel incidents …`: look at incidents in Temporal. */
import { WorkflowNotFoundError } from '@temporalio/client';
import { loadConfig } from '../config';
import { connectClient } from '../temporal/client';
import type { IncidentState } from '../../workflows/types';

export async function incidentsCommand(sub: string | undefined, args: string[]): Promise<number> {
  if (sub !== 'show' || args.length !== 1) {
    process.stderr.write('usage: sentinel incidents show <incident id>\n');
    return 2;
  }
  const id = args[0]!;
  const config = loadConfig();
  const client = await connectClient(config.temporal);
  try {
    const handle = client.workflow.getHandle(id);
    const [description, state] = await Promise.all([handle.describe(), handle.query<IncidentState>('state')]);
    process.stdout.write(JSON.stringify({ id, execution: description.status.name, startTime: description.startTime, state }, null, 2) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      process.stderr.write(`sentinel: no incident with id ${JSON.stringify(id)} in namespace ${config.temporal.namespace} at ${config.temporal.address}\n`);
      return 1;
    }
    throw err;
  } finally {
    await client.connection.close();
  }
}
