/**
 * The fair dispatcher's rules, without NATS: the rotation of lanes, how many jobs a model's work
 * queue should hold, and the estimate of a waiting job's queue position.
 */

/** A model's work queue: jobs no worker has taken yet, idle slots asking for one, jobs running. */
export interface QueueState {
  pending: number;
  waiting: number;
  running: number;
}

/**
 * Busy slots per job kept waiting in the work queue beyond one per idle slot: about what a pool
 * finishes while one dispatch pass runs, so a large pool does not wait on the dispatcher, while a
 * new lane's job still waits behind only that many (one for up to this many slots).
 */
const SLOTS_PER_QUEUED_JOB = 32;

/** Jobs the work queue should hold for `queue`'s workers, counting those it holds. */
export function queueTarget(queue: QueueState): number {
  return queue.waiting + Math.max(1, Math.ceil((queue.waiting + queue.running) / SLOTS_PER_QUEUED_JOB));
}

/**
 * Whether `jobs` just submitted may skip the backlog: none of the model's lanes has a job waiting
 * (so no turn is taken from anyone) and the work queue has room for them all.
 */
export function roomFor(jobs: number, queue: QueueState, waitingLanes: number): boolean {
  return waitingLanes === 0 && jobs <= queueTarget(queue) - queue.pending;
}

/** The lane after `last` in a sorted rotation of `lanes` (the first one when `last` is the end). */
export function nextLane(lanes: readonly string[], last: string | undefined): string | undefined {
  const sorted = [...lanes].sort();
  return (last === undefined ? undefined : sorted.find((lane) => lane > last)) ?? sorted[0];
}

/**
 * The next `count` turns of the rotation after `last`, each lane at most as often as it has jobs
 * waiting: what one pass takes at once, as if it had advanced the cursor turn by turn.
 */
export function takeTurns(
  lanes: ReadonlyMap<string, number>,
  last: string | undefined,
  count: number,
): string[] {
  const left = new Map(lanes);
  const turns: string[] = [];
  let cursor = last;
  while (turns.length < count) {
    const lane = nextLane([...left.keys()], cursor);
    if (lane === undefined) break;
    turns.push(lane);
    cursor = lane;
    const waiting = (left.get(lane) ?? 1) - 1;
    if (waiting > 0) left.set(lane, waiting);
    else left.delete(lane);
  }
  return turns;
}

/**
 * Estimated jobs of other lanes dispatched before the job at `index` (0: oldest) of `lane`: the
 * rotation goes on from the lane after `lastLane`, so a lane that comes before `lane` in it gets
 * index + 1 turns first and one after it index turns, each capped at the jobs it has waiting. An
 * estimate: lanes that fill up or empty meanwhile change it.
 */
export function estimateBacklogAhead(
  lanes: ReadonlyMap<string, number>,
  lane: string,
  index: number,
  lastLane: string | undefined,
): number {
  const sorted = [...new Set([...lanes.keys(), lane])].sort();
  const first = nextLane(sorted, lastLane);
  const start = first === undefined ? 0 : sorted.indexOf(first);
  const rotation = [...sorted.slice(start), ...sorted.slice(0, start)];
  const mine = rotation.indexOf(lane);
  return rotation.reduce((sum, other, position) => {
    if (other === lane) return sum;
    const turns = position < mine ? index + 1 : index;
    return sum + Math.min(lanes.get(other) ?? 0, turns);
  }, 0);
}
