/**
 * Jobs a dispatcher's own process just put in the backlog, by model and lane: while a lane holds one
 * job, that is this one, and the dispatcher moves it without reading it back. Should another
 * dispatcher have moved it meanwhile, moving it again is a duplicate the work queue drops (its id is
 * the message id, and a note is far younger than the duplicate window), and the lane's job waits a
 * turn.
 */
import type { BacklogJob } from './fair-dispatcher.js';

/** How long a note is trusted. */
const SUBMITTED_NOTE_MS = 2000;

export class SubmittedNotes {
  private readonly notes = new Map<string, { job: BacklogJob; at: number }>();

  note(model: string, lane: string, job: BacklogJob): void {
    const now = Date.now();
    for (const [key, note] of this.notes) if (now - note.at > SUBMITTED_NOTE_MS) this.notes.delete(key);
    this.notes.set(`${model}.${lane}`, { job, at: now });
  }

  /** The lane's noted job, forgotten as it is taken. */
  take(model: string, lane: string): BacklogJob | undefined {
    const key = `${model}.${lane}`;
    const note = this.notes.get(key);
    this.notes.delete(key);
    return note !== undefined && Date.now() - note.at <= SUBMITTED_NOTE_MS ? note.job : undefined;
  }
}
