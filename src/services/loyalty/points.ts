/** The loyalty rule: one point per whole unit of the order's currency (total in minor units). */
export const pointsFor = (totalMinor: number): number => Math.floor(totalMinor / 100);
