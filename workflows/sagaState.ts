import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type {
  OrderSagaStatus,
  SagaOutcome,
  SagaStatusView,
  SagaType,
  TransferSagaStatus,
} from './definitions';
import { SAGA_STATUS } from './searchAttributes';

/**
 * What a saga reports about itself: the status query, the SagaStatus search attribute and
 * the markdown details on its page in the Temporal UI, kept in step.
 */
export class SagaState<Status extends OrderSagaStatus | TransferSagaStatus> {
  readonly view: SagaStatusView;

  constructor(sagaType: SagaType, businessId: string, status: Status) {
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
    upsertSearchAttributes([{ key: SAGA_STATUS, value: status }]);
    this.publish();
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
    if (v.failureReason) lines.push(`- Reason: ${v.failureReason}`);
    if (v.cancelRefusedReason) lines.push(`- Cancel refused: ${v.cancelRefusedReason}`);
    lines.push('', `_Run ${workflowInfo().runId}_`);
    setCurrentDetails(lines.join('\n'));
  }
}
