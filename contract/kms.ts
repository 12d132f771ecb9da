/**
 * KMS key ARNs, as the detector finds them in messages and the KMS worker revokes them. A key ARN is
 * arn:<partition>:kms:<region>:<account>:key/<key id>, in the aws, aws-cn and aws-us-gov partitions;
 * the key id is a UUID, or mrk- and 32 hex digits for a multi-Region key.
 * https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#key-id-key-ARN
 * https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
 */

/** The pattern of a key ARN, without anchors (rules and the detector search text with it). */
export const KMS_KEY_ARN_PATTERN =
  'arn:aws(?:-cn|-us-gov)?:kms:[a-z]{2}(?:-[a-z]+)+-[0-9]:[0-9]{12}:key/(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';

const WHOLE = new RegExp(`^${KMS_KEY_ARN_PATTERN}$`);
const ANYWHERE = new RegExp(KMS_KEY_ARN_PATTERN);

export interface KmsKeyArn {
  partition: 'aws' | 'aws-cn' | 'aws-us-gov';
  region: string;
  account: string;
  keyId: string;
  multiRegion: boolean;
}

/** The parts of a key ARN, or undefined when `arn` is not one (an alias ARN, a bare id, a typo). */
export function parseKmsKeyArn(arn: string): KmsKeyArn | undefined {
  if (!WHOLE.test(arn)) return undefined;
  const [, partition, , region, account, resource] = arn.split(':');
  const keyId = resource!.slice('key/'.length);
  return { partition: partition as KmsKeyArn['partition'], region: region!, account: account!, keyId, multiRegion: keyId.startsWith('mrk-') };
}

/** The first key ARN in a message, if any. */
export function findKmsKeyArn(text: string): string | undefined {
  return ANYWHERE.exec(text)?.[0];
}
