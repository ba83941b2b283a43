import {
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  OrderSagaStatus,
  SagaOutcome,
  SagaStatusView,
  SagaType,
  TransferSagaStatus,
} from './definitions';
import { SAGA_STATUS } from './searchAttributes';

/**
 * Sagas started before this patch upserted SagaStatus at every status; replaying them must
 * issue the same upserts. New runs upsert only at milestones.
 */
export const SAGA_STATUS_MILESTONES_PATCH = 'saga-status-milestones';

/** Where a parked forward step resumes: the status and reason shown before it parked. */
export interface ParkedFrom<Status> {
  status: Status;
  failureReason: string | null;
}

/**
 * What a saga reports about itself: the status query, the SagaStatus search attribute and
 * the markdown details on its page in the Temporal UI, kept in step. The query and the
 * details follow every status; the search attribute follows only the milestones.
 */
export class SagaState<Status extends OrderSagaStatus | TransferSagaStatus> {
  readonly view: SagaStatusView;
  private readonly milestones: ReadonlySet<string> | undefined;

  /** @param milestones the statuses SagaStatus takes (all of them when omitted). */
  constructor(
    sagaType: SagaType,
    businessId: string,
    status: Status,
    milestones?: readonly Status[],
  ) {
    this.milestones = milestones && new Set(milestones);
    this.view = {
      sagaType,
      businessId,
      status,
      outcome: 'RUNNING',
      currentStep: null,
      completedSteps: [],
      compensationsRegistered: [],
      compensationsRun: [],
      failingCompensation: null,
      failingStep: null,
      failureReason: null,
      cancelRefusedReason: null,
    };
  }

  get status(): Status {
    return this.view.status as Status;
  }

  setStatus(status: Status): void {
    if (this.view.status === status) return;
    this.view.status = status;
    if (this.isMilestone(status) || !patched(SAGA_STATUS_MILESTONES_PATCH)) {
      upsertSearchAttributes([{ key: SAGA_STATUS, value: status }]);
    }
    this.publish();
  }

  /** Upserts SagaStatus with the current status, milestone or not (a status that now lasts). */
  showStatusInSearch(): void {
    upsertSearchAttributes([{ key: SAGA_STATUS, value: this.view.status }]);
  }

  private isMilestone(status: Status): boolean {
    return this.milestones?.has(status) ?? true;
  }

  async step<T>(name: string, run: () => Promise<T>): Promise<T> {
    this.view.currentStep = name;
    this.publish();
    const result = await run();
    this.view.completedSteps.push(name);
    this.view.currentStep = null;
    this.publish();
    return result;
  }

  registerCompensation(name: string): void {
    this.view.compensationsRegistered.push(name);
  }

  compensationRan(name: string): void {
    this.view.compensationsRun.push(name);
    this.view.failingCompensation = null;
    this.publish();
  }

  compensationParked(name: string, reason: string): void {
    this.view.failingCompensation = name;
    this.finish('COMPENSATION_FAILED', 'COMPENSATION_FAILED' as Status, reason);
  }

  compensationResumed(): void {
    this.view.outcome = 'RUNNING';
    this.setStatus('COMPENSATING' as Status);
  }

  /**
   * A forward step was rejected: the saga parks in FORWARD_STEP_FAILED (a milestone).
   * Returns what to show again once it resumes.
   */
  forwardStepParked(name: string, reason: string): ParkedFrom<Status> {
    const parkedFrom = { status: this.status, failureReason: this.view.failureReason };
    this.view.failingStep = name;
    this.finish('FORWARD_STEP_FAILED', 'FORWARD_STEP_FAILED' as Status, reason);
    return parkedFrom;
  }

  forwardStepResumed(parkedFrom: ParkedFrom<Status>): void {
    this.view.outcome = 'RUNNING';
    this.view.failingStep = null;
    this.view.failureReason = parkedFrom.failureReason;
    this.setStatus(parkedFrom.status);
  }

  finish(outcome: SagaOutcome, status: Status, reason: string | null): void {
    this.view.outcome = outcome;
    this.view.currentStep = null;
    if (reason) this.view.failureReason = reason;
    this.setStatus(status);
    this.publish();
  }

  /** Markdown shown on the saga's page in the Temporal UI ("Current details"). Ids only. */
  publish(): void {
    const v = this.view;
    const lines = [
      `**${v.sagaType}** \`${v.businessId}\` · status **${v.status}** · ${v.outcome}`,
      '',
      `- Current step: ${v.currentStep ?? '—'}`,
      `- Steps done: ${v.completedSteps.join(' → ') || '—'}`,
      `- Compensations registered: ${v.compensationsRegistered.join(', ') || '—'}`,
      `- Compensations run: ${v.compensationsRun.join(', ') || '—'}`,
    ];
    if (v.failingCompensation) {
      lines.push(
        `- ⚠ Compensation failing: ${v.failingCompensation}. Fix the cause, then send the \`retryCompensation\` signal.`,
      );
    }
    if (v.failingStep) {
      lines.push(
        `- ⚠ Forward step rejected: ${v.failingStep}. Fix the cause, then send the \`retryStep\` signal.`,
      );
    }
    if (v.status === 'DELIVERY_OVERDUE') {
      lines.push(
        '- ⚠ No delivery confirmation from the carrier in time. Check with the carrier; its confirmation (the `shipmentDelivered` signal) still completes the order.',
      );
    }
    if (v.failureReason) lines.push(`- Reason: ${v.failureReason}`);
    if (v.cancelRefusedReason) lines.push(`- Cancel refused: ${v.cancelRefusedReason}`);
    lines.push('', `_Run ${workflowInfo().runId}_`);
    setCurrentDetails(lines.join('\n'));
  }
}
