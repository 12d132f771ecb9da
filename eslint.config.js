// Lint enforces the Temporal sandbox boundary: workflow code stays deterministic by construction.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const sandbox = 'workflow code runs in a deterministic sandbox: do IO in activities/ and import them as types only';
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const sandboxPaths = nodeBuiltins.map((name) => ({ name, message: sandbox }));
const sandboxPatterns = [
  { group: ['node:*'], message: sandbox },
  {
    group: ['nats', 'nats/*', '@slack/*', '@aws-sdk/*', '@temporalio/activity', '@temporalio/worker', '@temporalio/client', 'yaml', 'zod'],
    message: sandbox,
  },
];

/** The sandbox's import rule, plus the folders of Sentinel these files must not import (`message` says why). */
const sandboxRule = (folders, message) => ({
  '@typescript-eslint/no-restricted-imports': ['error', { paths: sandboxPaths, patterns: [...sandboxPatterns, { group: folders, message }] }],
});

export default tseslint.config(
  { ignores: ['node_modules/**', '.sentinel/**', 'coverage/**', 'dist/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: sandboxRule(['**/activities', '**/activities/*', '**/src/*', '**/src/**'], `${sandbox}; what workflows share with activities and the detector lives in contract/`),
  },
  {
    // contract/ is imported by workflow code, so it keeps to the sandbox's rules, and it depends on nothing of Sentinel's.
    files: ['contract/**/*.ts'],
    rules: sandboxRule(['**/workflows', '**/workflows/*', '**/activities', '**/activities/*', '**/src/*', '**/src/**'], 'contract/ depends on nothing of Sentinel: the others depend on it'),
  },
  {
    // The failure converter is loaded by path with require(), in and out of the sandbox.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: '@temporalio/workflow', message: 'activities run outside the workflow sandbox: @temporalio/workflow belongs in workflows/' }],
          patterns: [{ group: ['**/workflows', '**/workflows/*', '**/src/*', '**/src/**'], message: 'activities share types, ids and failure types with workflows through contract/ only' }],
        },
      ],
    },
  },
);
