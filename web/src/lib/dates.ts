export type DateGroup = "Today" | "Yesterday" | "Previous 7 days" | "Previous 30 days" | "Older";

/** The sidebar heading for a conversation last updated at ``seconds`` (epoch seconds). */
export function dateGroup(seconds: number, now: Date = new Date()): DateGroup {
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const day = 86_400_000;
  const at = seconds * 1000;
  if (at >= startOfToday) return "Today";
  if (at >= startOfToday - day) return "Yesterday";
  if (at >= startOfToday - 7 * day) return "Previous 7 days";
  if (at >= startOfToday - 30 * day) return "Previous 30 days";
  return "Older";
}

/** Consecutive runs of items with the same group, in the given order (the list is newest first). */
export function groupByDate<T>(items: readonly T[], when: (item: T) => number, now?: Date): [DateGroup, T[]][] {
  const groups: [DateGroup, T[]][] = [];
  for (const item of items) {
    const group = dateGroup(when(item), now);
    const last = groups[groups.length - 1];
    if (last && last[0] === group) last[1].push(item);
    else groups.push([group, [item]]);
  }
  return groups;
}
