// Lint enforces the Temporal sandbox boundary: workflow code stays deterministic by construction.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const sandbox = 'workflow code runs in a deterministic sandbox: do IO in activities/ and import them as types only';
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', '.sentinel/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: sandbox })),
          patterns: [
            { group: ['node:*'], message: sandbox },
            {
              group: ['nats', 'nats/*', '@slack/*', '@aws-sdk/*', '@temporalio/activity', '@temporalio/worker', '@temporalio/client', 'yaml', 'zod'],
              message: sandbox,
            },
            { group: ['**/activities', '**/activities/*', '**/src/*', '**/src/**'], allowTypeImports: true, message: sandbox },
          ],
        },
      ],
    },
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
        { paths: [{ name: '@temporalio/workflow', message: 'activities run outside the workflow sandbox: @temporalio/workflow belongs in workflows/' }] },
      ],
    },
  },
);
