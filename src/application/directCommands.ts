import { accountDecider } from '../domain/account';
import { inventoryDecider } from '../domain/inventory';
import type { CommandHandler, CommandResult } from './commandHandler';

/**
 * Commands that touch one aggregate and need no saga: opening accounts, deposits,
 * freezing, restocking. The caller supplies a command id (e.g. from an Idempotency-Key)
 * so a retried request appends nothing twice.
 */
export class DirectCommands {
  constructor(
    private readonly commands: CommandHandler,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private metadata() {
    return { now: this.now().toISOString() };
  }

  openAccount(
    input: { accountId: string; ownerId: string; initialDeposit?: number },
    context: { commandId: string; correlationId?: string },
  ): Promise<CommandResult<unknown>> {
    return this.commands.handle(
      accountDecider,
      input.accountId,
      { type: 'OpenAccount', data: input, metadata: this.metadata() },
      context,
    );
  }

  deposit(
    input: { accountId: string; amount: number; reference: string },
    context: { commandId: string; correlationId?: string },
  ): Promise<CommandResult<unknown>> {
    return this.commands.handle(
      accountDecider,
      input.accountId,
      { type: 'DepositFunds', data: input, metadata: this.metadata() },
      context,
    );
  }

  freezeAccount(
    input: { accountId: string; reason: string },
    context: { commandId: string; correlationId?: string },
  ): Promise<CommandResult<unknown>> {
    return this.commands.handle(
      accountDecider,
      input.accountId,
      { type: 'FreezeAccount', data: input, metadata: this.metadata() },
      context,
    );
  }

  restock(
    input: { sku: string; quantity: number; reference: string },
    context: { commandId: string; correlationId?: string },
  ): Promise<CommandResult<unknown>> {
    return this.commands.handle(
      inventoryDecider,
      input.sku,
      { type: 'RestockItem', data: input, metadata: this.metadata() },
      context,
    );
  }
}
