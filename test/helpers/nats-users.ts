/** Passwords for the users of deploy/nats/accounts.conf in tests, and each role's client settings. */
export const passwords = {
  NATS_ADMIN_PASSWORD: 'admin-test-password',
  NATS_BOT_PASSWORD: 'bot-test-password',
  NATS_WORKER_PASSWORD: 'worker-test-password',
};
export const botEnv = { NATS_USER: 'sdbot-bot', NATS_PASSWORD: passwords.NATS_BOT_PASSWORD };
export const workerEnv = { NATS_USER: 'sdbot-worker', NATS_PASSWORD: passwords.NATS_WORKER_PASSWORD };
