/**
 * The KMS worker and the credential worker (`npm run worker:kms`): the only Sentinel workers with
 * outbound AWS credentials, so the only ones that load the AWS SDK.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createCredentialActivities } from '../../activities/credentials';
import { createKmsActivities } from '../../activities/kms';
import type { Config } from '../config';
import type { EncryptionCodec } from '../crypto/codec';
import { dataConverterFor } from '../temporal/data-converter';
import { sharedOptions } from './shared-options';

/** The KMS worker: the only process that needs KMS credentials. */
export async function createKmsWorker(connection: NativeConnection, config: Config, codec: EncryptionCodec): Promise<Worker> {
  const clients = new Map<string, KMSClient>();
  // Temporal retries: the SDK's own retries off, as for Slack.
  const clientFor = (region: string) => {
    let c = clients.get(region);
    if (!c) clients.set(region, (c = new KMSClient({ region, ...(config.kms.endpoint ? { endpoint: config.kms.endpoint } : {}), maxAttempts: 1 })));
    return c;
  };
  return Worker.create({
    // Activities only, on queues of their own: they serve every build's incidents, unversioned.
    ...sharedOptions(connection, config, dataConverterFor(codec), false),
    taskQueue: config.kms.taskQueue,
    activities: createKmsActivities(clientFor),
  });
}

/**
 * The credential worker: verifies leaked credentials with their providers and revokes them. The
 * only process besides the KMS worker with outbound credentials (IAM rights in Sentinel's account);
 * it runs next to the KMS worker (npm run worker:kms).
 */
export async function createCredentialWorker(connection: NativeConnection, config: Config, codec: EncryptionCodec): Promise<Worker> {
  const region = config.kms.region;
  const c = config.credentials;
  // Temporal retries: the SDK's own retries off, as for KMS and Slack.
  const aws = (endpoint: string | undefined) => ({ region, maxAttempts: 1, ...(endpoint ? { endpoint } : {}) });
  return Worker.create({
    // Activities only, on queues of their own: they serve every build's incidents, unversioned.
    ...sharedOptions(connection, config, dataConverterFor(codec), false),
    taskQueue: c.taskQueue,
    activities: createCredentialActivities({
      iam: new IAMClient(aws(c.iamEndpoint)),
      sts: new STSClient(aws(c.stsEndpoint)),
      // The leaked pair signs only its own GetCallerIdentity: never Sentinel's credentials.
      stsAs: (accessKeyId, secretAccessKey) => new STSClient({ ...aws(c.stsEndpoint), credentials: { accessKeyId, secretAccessKey } }),
      slackApiUrl: config.slack.apiUrl,
      githubApiUrl: c.githubApiUrl,
    }),
  });
}
