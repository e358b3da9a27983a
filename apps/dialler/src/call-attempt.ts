/**
 * The state of one call attempt inside the dialler, and how carrier events move it.
 *
 * phase: reserving -> attaching -> placing -> dialling -> ringing -> in-progress -> final.
 * Events that would move an attempt backwards, repeat a state, or arrive after `final`
 * are ignored, which makes duplicate and late carrier callbacks harmless.
 */
import type { CarrierCallStatus } from '@voxfleet/schema';
import type { Reservation } from '@voxfleet/registry';

import type { ClaimedAttempt } from './bridge-client.js';

export type AttemptPhase =
  'reserving' | 'attaching' | 'placing' | 'dialling' | 'ringing' | 'in-progress' | 'final';

export type FinalCarrierStatus = 'completed' | 'busy' | 'no-answer' | 'failed';

/** Action the dialler takes in response to a carrier event. */
export type AttemptAction =
  | { kind: 'ignore' }
  | { kind: 'report'; status: 'ringing' | 'in-progress' }
  | { kind: 'finish'; status: FinalCarrierStatus; answered: boolean };

const PHASE_ORDER: readonly AttemptPhase[] = [
  'reserving',
  'attaching',
  'placing',
  'dialling',
  'ringing',
  'in-progress',
  'final',
];

export class CallAttempt {
  phase: AttemptPhase = 'reserving';
  reservation: Reservation | null = null;
  workerId: string | null = null;
  carrierCallId: string | null = null;
  /** Epoch milliseconds when the carrier accepted the call; the watchdog counts from here. */
  placedAt: number | null = null;
  /** True once the carrier reported `answered`; the worker then owns the slot and its release. */
  answered = false;

  constructor(readonly claim: ClaimedAttempt) {}

  get callId(): string {
    return this.claim.callId;
  }

  /** Moves the attempt forward only; returns false when `next` is not ahead of the current phase. */
  advance(next: AttemptPhase): boolean {
    if (PHASE_ORDER.indexOf(next) <= PHASE_ORDER.indexOf(this.phase)) return false;
    if (next === 'in-progress') this.answered = true;
    this.phase = next;
    return true;
  }

  /** Applies a carrier status and returns the action it calls for. */
  applyCarrierStatus(status: CarrierCallStatus): AttemptAction {
    // Events before `placing` cannot be about this attempt: the carrier has not been asked yet.
    if (PHASE_ORDER.indexOf(this.phase) < PHASE_ORDER.indexOf('placing')) return { kind: 'ignore' };

    switch (status) {
      case 'ringing':
        return this.advance('ringing') ? { kind: 'report', status: 'ringing' } : { kind: 'ignore' };
      case 'answered':
        return this.advance('in-progress')
          ? { kind: 'report', status: 'in-progress' }
          : { kind: 'ignore' };
      case 'completed':
      case 'busy':
      case 'no-answer':
      case 'failed': {
        return this.advance('final')
          ? { kind: 'finish', status, answered: this.answered }
          : { kind: 'ignore' };
      }
    }
  }
}
