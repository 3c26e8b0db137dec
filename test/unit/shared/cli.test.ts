import { describe, expect, it } from 'vitest';
import { discoverCommands } from '@sdbot/shared';
import { runSdbot } from '../../helpers/cli.js';

describe('sdbot CLI dispatcher', () => {
  it('--help lists commands from every package', async () => {
    const run = await runSdbot(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: sdbot <command> [options]');
    expect(run.stdout).toMatch(/^ {2}config +Check the configuration/m);
  });

  it('no command prints the overview and exits 2', async () => {
    const run = await runSdbot([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('Commands:');
  });

  it('an unknown command exits 2 and lists the known ones', async () => {
    const run = await runSdbot(['paint']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown command "paint"');
    expect(run.stderr).toContain('config');
  });

  it('an unknown flag exits 2 naming it', async () => {
    const run = await runSdbot(['config', '--colour']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Unknown option '--colour'");
    expect(run.stderr).toContain('sdbot config --help');
  });

  it('<command> --help and help <command> print its options', async () => {
    for (const args of [
      ['config', '--help'],
      ['help', 'config'],
    ]) {
      const run = await runSdbot(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Usage: sdbot config [--list] [--json]');
      expect(run.stdout).toContain('--list');
    }
  });

  it('config reports invalid variables with CONFIG_INVALID and exit 1', async () => {
    const run = await runSdbot(['config'], { SDBOT_WORKER_SLOTS: 'many' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error [CONFIG_INVALID]');
    expect(run.stderr).toContain('SDBOT_WORKER_SLOTS: must be an integer in 1..64');
  });

  it('config --json prints the resolved configuration without secrets', async () => {
    const run = await runSdbot(['config', '--json'], {
      NATS_PASSWORD: 'hunter2',
      NATS_URL: 'nats://127.0.0.1:4222',
    });
    expect(run.code).toBe(0);
    const config = JSON.parse(run.stdout) as { nats: { password: string; url: string[] } };
    expect(config.nats.password).toBe('[REDACTED]');
    expect(config.nats.url).toEqual(['nats://127.0.0.1:4222']);
  });

  it('every command name is unique across packages and has a summary', async () => {
    const commands = await discoverCommands();
    expect(new Set(commands.map((c) => c.name)).size).toBe(commands.length);
    for (const command of commands) {
      expect(command.summary.length).toBeGreaterThan(5);
      const definition = await command.load();
      expect(definition.name).toBe(command.name);
    }
  });
});
