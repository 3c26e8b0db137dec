/**
 * Who may create jobs in a server: members on the ban list may not; when the server lists allowed
 * roles, only members with one of them may. Applied to /imagine, every button and every context
 * command through the one request path.
 */
import type { GuildSettings } from '@sdbot/shared';
import { RequestRefusedError } from '../errors.js';

export interface MemberRef {
  userId: string;
  /** The member's role ids; empty in direct messages. */
  roleIds: readonly string[];
}

export function refuseMember(settings: GuildSettings | null, member: MemberRef): void {
  if (settings === null) return;
  if (settings.bannedUsers.includes(member.userId)) {
    throw new RequestRefusedError('user-banned', 'You may not create images in this server.');
  }
  const allowed = settings.allowedRoles;
  if (allowed.length > 0 && !member.roleIds.some((role) => allowed.includes(role))) {
    throw new RequestRefusedError(
      'role-not-allowed',
      `This server lets only members with ${allowed.map((id) => `<@&${id}>`).join(', ')} create images.`,
    );
  }
}
