/** Rule files change under a running detector: good changes apply, bad ones keep the last good set. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../src/engine/engine';
import { formatProblem } from '../src/engine/load';
import { RuleWatcher, type ReloadReport } from '../src/engine/watch';
import type { ChatEvent } from '../src/engine/types';
import { eventually } from './support/harness';

const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.1', eventType: 'message', text });
const rule = (word: string, severity = 'low') => `rules:
  - id: word
    description: a word
    category: policy
    severity: ${severity}
    match: { keywords: [${word}] }
    actions: [notify]
`;

describe('rule hot reload', () => {
  it('applies a valid change, keeps the last good set on an invalid one, and says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-watch-'));
    const file = join(dir, 'word.yaml');
    writeFileSync(file, rule('alpha'));
    const reports: ReloadReport[] = [];
    const watcher = new RuleWatcher(dir, (r) => reports.push(r)).start();
    try {
      const ids = (text: string) => evaluate(event(text), watcher.current()).map((f) => f.ruleId);
      expect(ids('alpha')).toEqual(['word']);

      writeFileSync(file, rule('beta'));
      await eventually('the edit to apply', () => ids('beta').length === 1);
      expect(ids('alpha')).toEqual([]);

      writeFileSync(file, rule('gamma', 'apocalyptic'));
      const refused = await eventually('the bad edit to be reported', () => reports.find((r) => r.kept.length > 0));
      expect(refused.kept).toEqual([file]);
      expect(formatProblem(refused.problems[0]!)).toContain(`${file}:5: rules.0.severity`);
      expect(ids('beta')).toEqual(['word']);
      expect(ids('gamma')).toEqual([]);

      writeFileSync(join(dir, 'second.yaml'), rule('delta').replace('id: word', 'id: second'));
      await eventually('a new file to load', () => ids('delta').length === 1);
      rmSync(join(dir, 'second.yaml'));
      await eventually('a removed file to unload', () => ids('delta').length === 0);
    } finally {
      watcher.close();
    }
  });
});
