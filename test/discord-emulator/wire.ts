/**
 * discord-api-types models Discord's numeric fields as TypeScript enums, while JSON from the wire
 * carries plain numbers. These are the two conversions between them.
 */

/** The enum member equal to a wire value, or undefined when the value is not one. */
export function enumMember<E extends Record<string, string | number>>(
  enumObject: E,
  value: unknown,
): E[keyof E] | undefined {
  return Object.values(enumObject).find((member): member is E[keyof E] => member === value);
}

/** A combination of bits of a flags enum, typed as that enum; throws on bits it does not define. */
export function bitfield<E extends Record<string, string | number>>(
  flagsEnum: E,
  bits: number,
): Extract<E[keyof E], number> {
  const known = Object.values(flagsEnum).reduce<number>(
    (all, flag) => (typeof flag === 'number' ? all | flag : all),
    0,
  );
  if ((bits & ~known) !== 0) throw new RangeError(`flags ${bits} contain bits the enum does not define`);
  return bits as Extract<E[keyof E], number>;
}
