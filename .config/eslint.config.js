// ESLint flat config. It lives in .config/ because the top level holds only the project's
// eight entries; `npm run lint` passes it explicitly.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

const crossPackage = (forbidden) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: forbidden.map((group) => ({
        group: [group],
        message: 'packages depend on shared only, never on each other',
      })),
      paths: [
        {
          name: 'onnxruntime-node',
          message: 'onnxruntime is imported only by worker/src/diffusion/backend/onnx.ts',
        },
      ],
    },
  ],
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['.config/*.js', 'shared/bin/*.js', 'deploy/docker/*.js'] },
        tsconfigRootDir: root,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['shared/**'],
    rules: crossPackage([
      '@sdbot/bot',
      '@sdbot/worker',
      '**/bot/**',
      '**/worker/**',
      'discord.js',
      '@discordjs/*',
    ]),
  },
  { files: ['bot/**'], rules: crossPackage(['@sdbot/worker', '**/worker/**']) },
  { files: ['worker/**'], rules: crossPackage(['@sdbot/bot', '**/bot/**', 'discord.js', '@discordjs/*']) },
  { files: ['worker/src/diffusion/backend/onnx.ts'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['test/**'], rules: { 'no-console': 'off', '@typescript-eslint/no-non-null-assertion': 'off' } },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked, languageOptions: { globals: globals.node } },
);
