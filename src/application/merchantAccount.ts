import type { CommandHandler } from './commandHandler';
import { DirectCommands } from './directCommands';

/**
 * Opens the merchant revenue account every order's forward steps credit, unless it is open
 * already (the command id makes a repeat a no-op, so every worker may run it at start).
 */
export async function openMerchantAccount(
  commands: CommandHandler,
  merchantAccountId: string,
): Promise<void> {
  await new DirectCommands(commands).openAccount(
    { accountId: merchantAccountId, ownerId: 'merchant' },
    { commandId: `bootstrap/merchant-account/${merchantAccountId}` },
  );
}
