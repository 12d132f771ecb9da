/** KMS key ARNs in every partition, multi-Region keys included; aliases and near misses are not keys. */
import { describe, expect, it } from 'vitest';
import { findKmsKeyArn, parseKmsKeyArn } from '../contract';

describe('KMS key ARNs', () => {
  it.each([
    ['arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'aws', 'us-east-1', false],
    ['arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab', 'aws', 'eu-west-1', true],
    ['arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'aws-cn', 'cn-north-1', false],
    ['arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef', 'aws-us-gov', 'us-gov-west-1', true],
  ])('reads %s', (arn, partition, region, multiRegion) => {
    expect(parseKmsKeyArn(arn)).toMatchObject({ partition, region, account: '123456789012', multiRegion });
    expect(findKmsKeyArn(`revoke ${arn} please`)).toBe(arn);
  });

  it.each([
    'arn:aws:kms:us-east-1:123456789012:alias/prod',
    'arn:aws:kms:us-east-1:12345:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'arn:aws:kms:us-east-1:123456789012:key/mrk-1234',
    'arn:aws-iso:kms:us-iso-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    '1234abcd-12ab-34cd-56ef-1234567890ab',
  ])('refuses %s', (arn) => {
    expect(parseKmsKeyArn(arn)).toBeUndefined();
  });
});
