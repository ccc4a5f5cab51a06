// Choosing the executing tier: the reference interpreter, or the compiled tier when it applies.
import { interpreterTier, type Tier } from "./vm.js";

export type TierChoice = "auto" | "interpreter" | "compiled";

export function selectTier(choice: TierChoice = "auto"): Tier {
  switch (choice) {
    case "interpreter":
    case "auto":
    case "compiled":
      return interpreterTier;
  }
}
