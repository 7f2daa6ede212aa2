/**
 * The type of a provider injected with `@Inject(forwardRef(() => X))` across an import cycle. With
 * SWC, a class written as a constructor parameter's type is read (for Nest's design:paramtypes) when
 * the class is defined, while the cycle still has it uninitialised; a type written through this
 * alias is emitted as Object, and Nest takes the provider from the forwardRef.
 */
export type Cyclic<T> = T;
