import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', '.data', 'coverage', 'jest.config.js', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Workflow code is replayed: it must be deterministic. No Node built-ins, no I/O,
    // no clocks or randomness outside Temporal's APIs, and only pure domain imports.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/(workflow|common)$|\\.{1,2}/|\\.\\./src/domain/).*',
              message:
                'workflows/ may import only @temporalio/workflow, @temporalio/common, its own files and pure code in src/domain (activities as types only).',
              allowTypeImports: true,
            },
            {
              regex: '^\\.\\./src/domain(/index)?$|/eventSchema',
              message:
                "workflows/ import domain files directly: src/domain's index and the eventSchemas files load TypeBox, which has no place in the sandbox.",
              allowTypeImports: true,
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use a loop with sleep() from @temporalio/workflow.' },
        { name: 'process', message: 'Workflows have no process: pass configuration as input.' },
        { name: 'fetch', message: 'No I/O in workflows: call an activity.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Use workflow time via Date.now() only through Temporal, or pass time in.',
        },
        {
          selector: "MemberExpression[object.name='Math'][property.name='random']",
          message: 'Use uuid4() or random from @temporalio/workflow.',
        },
      ],
    },
  },
  prettier,
);
