/**
 * Hot reload of a rules folder: changed files are picked up without a restart. A file whose new
 * version has problems keeps its last good version, and the problems are reported.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import type { CompiledRule } from './compile';
import type { GitleaksEffects } from './gitleaks';
import type { StatefulRule } from '../correlate/model';
import { assemble, compileRuleFile, ruleFiles, type FileRules, type LoadedRules, type RuleProblem } from './load';

interface FileState {
  text: string;
  rules: CompiledRule[];
  /** A gitleaks file's effects on the other files, kept with its last good version. */
  gitleaks?: GitleaksEffects;
  stateful?: StatefulRule[];
}

export interface ReloadReport {
  /** The set changed (a file was added, edited or removed, and the new version was taken). */
  changed: boolean;
  /** Problems of files whose last good version was kept, or of new files, or across files (a duplicate id, a gitleaks file naming an unknown rule). */
  problems: RuleProblem[];
  /** Files whose new version was refused. */
  kept: string[];
}

export class RuleWatcher {
  private readonly good = new Map<string, FileState>();
  private loaded: LoadedRules;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly onReload: (report: ReloadReport, rules: LoadedRules) => void = () => {},
  ) {
    this.loaded = assemble([]);
    this.reload();
  }

  /** The rules in force. */
  current(): LoadedRules {
    return this.loaded;
  }

  /** Re-reads the folder now. */
  reload(): ReloadReport {
    const report: ReloadReport = { changed: false, problems: [], kept: [] };
    let files: string[];
    try {
      files = ruleFiles(this.dir);
    } catch (err) {
      report.problems.push({ file: this.dir, line: undefined, field: '', message: `cannot read the rules folder (keeping the rules in force): ${(err as Error).message}` });
      this.onReload(report, this.loaded);
      return report;
    }
    const perFile: FileRules[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue; // removed between listing and reading
      }
      const previous = this.good.get(file);
      const kept = (state: FileState): FileRules => ({ file, rules: state.rules, problems: [], ...(state.gitleaks ? { gitleaks: state.gitleaks } : {}), ...(state.stateful ? { stateful: state.stateful } : {}) });
      if (previous && previous.text === text) {
        perFile.push(kept(previous));
        continue;
      }
      const compiled = compileRuleFile(file, text);
      if (compiled.problems.length && previous) {
        report.kept.push(file);
        report.problems.push(...compiled.problems);
        perFile.push(kept(previous));
        continue;
      }
      report.problems.push(...compiled.problems);
      this.good.set(file, { text, rules: compiled.rules, ...(compiled.gitleaks ? { gitleaks: compiled.gitleaks } : {}), ...(compiled.stateful ? { stateful: compiled.stateful } : {}) });
      perFile.push({ file, ...compiled });
      report.changed = true;
    }
    for (const file of [...this.good.keys()]) {
      if (!files.includes(file)) {
        this.good.delete(file);
        report.changed = true;
      }
    }
    const next = assemble(perFile);
    // Problems across files (the per-file ones are reported above).
    const own = new Set<RuleProblem>(perFile.flatMap((f) => f.problems));
    report.problems.push(...next.problems.filter((p) => !own.has(p)));
    this.loaded = { ...next, problems: report.problems };
    this.onReload(report, this.loaded);
    return report;
  }

  /** Watches the folder; changes are applied 200 ms after the last write. */
  start(): this {
    this.watcher = watch(this.dir, () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), 200);
    });
    return this;
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}

