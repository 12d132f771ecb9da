/** The rules the incident suites run with, and a folder holding a rule file for a harness. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ARN = 'arn:aws:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** kms-auto (C0ENGINEE: revoke at once), kms-approval (C0GENERAL: revoke with approval), leakword (delete and notify). */
export const INCIDENT_RULES = `rules:
  - id: kms-auto
    description: KMS key named in engineering
    category: policy
    severity: high
    match: { regex: '(${ARN})', anchors: ["arn:aws:kms:"] }
    scope: { channels: [C0ENGINEE] }
    actions: [delete, notify, revoke_kms]
    message: "<@{user}>, a KMS key was named here; Sentinel revoked it."
  - id: kms-approval
    description: KMS key named in general, revoked only with approval
    category: policy
    severity: high
    match: { regex: '(${ARN})', anchors: ["arn:aws:kms:"] }
    scope: { channels: [C0GENERAL] }
    approval: required
    actions: [delete, notify, revoke_kms]
    message: "<@{user}>, a KMS key was named here; security will decide on revoking it."
  - id: leakword
    description: a test leak
    category: secret
    severity: medium
    match: { keywords: [leakword] }
    actions: [delete, notify]
    message: "<@{user}>, do not post leakwords."
`;

/** A rule that quarantines a test token (QRNT-…) in #engineering for an operator's review. */
export const QUARANTINE_RULE = `  - id: quarantine-token
    description: Quarantined test token
    category: secret
    severity: high
    match: { regex: '(QRNT-[A-Z0-9]{16})', anchors: ["QRNT-"] }
    scope: { channels: [C0ENGINEE] }
    actions: [quarantine, notify]
    message: "<@{user}>, your message is held for review."
`;

/** A fresh token of the test rules' shape: `prefix`, a dash, 16 upper-case letters and digits (no placeholder look). */
export function testToken(prefix: string): string {
  return `${prefix}-${Array.from({ length: 16 }, () => 'ABCDEFGHJKMNPQRSTVWXYZ23456789'[Math.floor(Math.random() * 30)]).join('')}`;
}

/** A fresh folder with `yaml` as its one rule file (SENTINEL_RULES_DIR). */
export function rulesDir(yaml: string, prefix = 'sentinel-test-rules-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'rules.yaml'), yaml);
  return dir;
}
