export {
  AllocationError,
  BASIS_POINTS_PER_UNIT,
  CurrencyMismatchError,
  InvalidMoneyError,
  Money,
  MoneyArgumentError,
  MoneyError,
  divideRounded,
  formatMoney,
  minorUnitDigits,
} from './money';
export type { MoneyProto, RoundingMode } from './money';
