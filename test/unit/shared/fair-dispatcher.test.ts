import {
  estimateBacklogAhead,
  nextLane,
  queueTarget,
  requesterLane,
  roomFor,
  takeTurns,
} from '@sdbot/shared';
import { describe, expect, it } from 'vitest';

describe('fair dispatch rotation', () => {
  it('serves the lane after the last one served, wrapping around, in name order', () => {
    const lanes = ['dm', '111111111111111111', 'cli'];
    expect(nextLane(lanes, undefined)).toBe('111111111111111111');
    expect(nextLane(lanes, '111111111111111111')).toBe('cli');
    expect(nextLane(lanes, 'dm')).toBe('111111111111111111');
    // A lane that emptied since it was served: the rotation goes on from where it was.
    expect(nextLane(['cli', 'dm'], '5')).toBe('cli');
    expect(nextLane([], 'dm')).toBeUndefined();
  });

  it('takes several turns at once as the rotation would one by one, skipping lanes that run dry', () => {
    const lanes = new Map([
      ['a', 3],
      ['b', 1],
      ['c', 2],
    ]);
    expect(takeTurns(lanes, undefined, 4)).toEqual(['a', 'b', 'c', 'a']);
    expect(takeTurns(lanes, 'a', 10)).toEqual(['b', 'c', 'a', 'c', 'a', 'a']);
    expect(takeTurns(lanes, 'b', 0)).toEqual([]);
    // The counts it was given are left as they were.
    expect(lanes.get('a')).toBe(3);
    expect(takeTurns(new Map(), 'a', 3)).toEqual([]);
  });

  it('fills the work queue for the idle slots plus one job, one more per 32 slots of a large pool', () => {
    // One busy worker: one job waits for it; idle: it gets one and one waits.
    expect(queueTarget({ pending: 0, waiting: 0, running: 1 })).toBe(1);
    expect(queueTarget({ pending: 0, waiting: 1, running: 0 })).toBe(2);
    expect(queueTarget({ pending: 0, waiting: 0, running: 0 })).toBe(1);
    expect(queueTarget({ pending: 3, waiting: 2, running: 30 })).toBe(3);
    // 256 slots, all busy: 8 jobs wait, what they finish while a dispatch pass runs.
    expect(queueTarget({ pending: 0, waiting: 0, running: 256 })).toBe(8);
    expect(queueTarget({ pending: 0, waiting: 6, running: 250 })).toBe(14);
  });

  it('lets new jobs skip the backlog only when no lane waits and the work queue has room for all', () => {
    const idle = { pending: 0, waiting: 1, running: 0 };
    expect(roomFor(1, idle, 0)).toBe(true);
    expect(roomFor(2, idle, 0)).toBe(true);
    // More jobs than the queue takes: they all queue in their lanes and take turns.
    expect(roomFor(3, idle, 0)).toBe(false);
    // Another lane has a job waiting: its turn comes first.
    expect(roomFor(1, idle, 1)).toBe(false);
    // Every slot busy and the one job kept waiting already there.
    expect(roomFor(1, { pending: 1, waiting: 0, running: 4 }, 0)).toBe(false);
  });

  it('puts guild jobs in their guild lane, direct messages and CLI jobs in their own', () => {
    expect(requesterLane({ source: 'discord', guildId: '123456789012345678' })).toBe('123456789012345678');
    expect(requesterLane({ source: 'discord', guildId: null })).toBe('dm');
    expect(requesterLane({ source: 'cli', guildId: null })).toBe('cli');
  });

  it('estimates the other lanes served first: one more turn for lanes ahead in the rotation', () => {
    const lanes = new Map([
      ['a', 20],
      ['b', 1],
      ['c', 3],
    ]);
    // b is next after a: its only job waits for nobody.
    expect(estimateBacklogAhead(lanes, 'b', 0, 'a')).toBe(0);
    // a's oldest waits for b and c (one each); a's 6th for b's 1 and c's 3.
    expect(estimateBacklogAhead(lanes, 'a', 0, 'a')).toBe(2);
    expect(estimateBacklogAhead(lanes, 'a', 5, 'a')).toBe(4);
    // c's second job: b goes first twice (it has one job), a once before and once after c's first.
    expect(estimateBacklogAhead(lanes, 'c', 1, 'a')).toBe(1 + 1);
    // Nothing served yet: the rotation starts at the first lane name.
    expect(estimateBacklogAhead(lanes, 'c', 0, undefined)).toBe(2);
  });
});
