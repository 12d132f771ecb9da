/**
 * KMS revocation. Runs only on the KMS task queue, whose workers alone hold KMS credentials.
 * Idempotent: a key already disabled or pending deletion counts as revoked.
 */
import { DescribeKeyCommand, DisableKeyCommand, ScheduleKeyDeletionCommand, KMSServiceException, type KMSClient } from '@aws-sdk/client-kms';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, parseKmsKeyArn, type KmsActivities } from '../contract';
import { activityMetrics } from './metrics';

/** Errors retrying cannot fix. */
const permanent = new Set(['NotFoundException', 'InvalidArnException', 'AccessDeniedException', 'ValidationException', 'UnsupportedOperationException', 'KMSInvalidStateException']);

function kmsFailure(err: unknown, keyArn: string): ApplicationFailure {
  const name = err instanceof KMSServiceException ? err.name : (err as Error)?.name;
  const message = `KMS ${name ?? 'error'} for ${keyArn}: ${(err as Error)?.message ?? String(err)}`;
  if (name && permanent.has(name)) return ApplicationFailure.create({ type: FailureType.KmsPermanent, nonRetryable: true, message });
  return ApplicationFailure.create({ type: FailureType.KmsTransient, message });
}

/** A KMS client for a region: keys are revoked in the region their ARN names. */
export type KmsClientFor = (region: string) => KMSClient;

export function createKmsActivities(clientFor: KmsClientFor) {
  return {
    /** Revokes the key (below), counted by outcome. */
    async revokeKey(r) {
      try {
        const result = await revoke(r);
        activityMetrics.kmsCalls.inc({ outcome: result.outcome });
        return result;
      } catch (err) {
        activityMetrics.kmsCalls.inc({ outcome: 'failed' });
        throw err;
      }
    },
  } satisfies KmsActivities;

  /** Disables the key, or schedules its deletion after `pendingDays`; already revoked counts as done. */
  async function revoke(r: Parameters<KmsActivities['revokeKey']>[0]): ReturnType<KmsActivities['revokeKey']> {
    const arn = parseKmsKeyArn(r.keyArn);
    if (!arn) {
      throw ApplicationFailure.create({ type: FailureType.KmsPermanent, nonRetryable: true, message: `not a KMS key ARN: ${JSON.stringify(r.keyArn)}` });
    }
    // A multi-Region key is revoked in the Region its ARN names: each replica is a key of its own.
    const kms = clientFor(arn.region);
    try {
      const described = await kms.send(new DescribeKeyCommand({ KeyId: r.keyArn }));
      const state = described.KeyMetadata?.KeyState ?? 'Unknown';
      // The bare key id from DescribeKey: AWS takes the ARN too, moto only the id.
      const keyId = described.KeyMetadata?.KeyId ?? r.keyArn;
      if (state === 'Disabled' || state === 'PendingDeletion') {
        if (r.action === 'disable' || state === 'PendingDeletion') return { outcome: 'already_revoked', keyState: state };
      }
      if (r.action === 'disable') {
        await kms.send(new DisableKeyCommand({ KeyId: keyId }));
        return { outcome: 'revoked', keyState: 'Disabled' };
      }
      await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: r.pendingDays }));
      return { outcome: 'revoked', keyState: 'PendingDeletion' };
    } catch (err) {
      throw kmsFailure(err, r.keyArn);
    }
  }
}
