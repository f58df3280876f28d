//! [`Num`] for a recording value: a rule run once on the host as a [`Program`], the
//! instantiation behind the CubeCL kernel (see `crate::cube`).
//!
//! Running `rule.apply` on [`Traced`] inputs records each operation as one [`Op`] of a program
//! in SSA form (each op makes one new value; the inputs are values `0..inputs`) and each
//! host constant `k` as one entry of a constant list, in the order the rule uses them:
//!
//! ```text
//! θ' = θ − η·m/(√v + ε)   ─trace─>   ops:    v4 = Mul(v2, v2)  v5 = Scale(v4, c0) ...
//!                                    consts: [c0, c1, ...]     outputs: [v9, v6, v7]
//! ```
//!
//! The program is the kernel's compile-time key; the constants are its run-time arguments. A
//! rule's next step (new bias corrections, a scheduled learning rate) gives the same program
//! with other constants, so the compiled kernel is reused. Branches a rule takes on the host
//! (`if weight_decay != 0`) give another program, and another kernel.

use std::cell::RefCell;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::rc::Rc;

use crate::num::Num;

/// The index of a value in a [`Program`] (inputs first, then one per op).
pub type Value = u16;
/// The index of a constant in the constant list a [`Program`] runs with.
pub type Const = u16;

/// One operation of a [`Program`]: its operands are earlier values and constants.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Op {
    /// `a + b`.
    Add(Value, Value),
    /// `a − b`.
    Sub(Value, Value),
    /// `a · b`.
    Mul(Value, Value),
    /// `a / b`.
    Div(Value, Value),
    /// `−a`.
    Neg(Value),
    /// `a · k`.
    Scale(Value, Const),
    /// `a / k`.
    DivK(Value, Const),
    /// `a + k`.
    Shift(Value, Const),
    /// `√a`.
    Sqrt(Value),
    /// `1 / a`.
    Recip(Value),
    /// `0`.
    Zero,
    /// `|a|`.
    Abs(Value),
    /// `max(a, b)`.
    Max(Value, Value),
    /// `max(a, k)`.
    MaxK(Value, Const),
    /// `sign(a)` (0 at ±0).
    Signum(Value),
    /// `eᵃ`.
    Exp(Value),
    /// `ln a`.
    Ln(Value),
    /// `ln(1 + a)`.
    Ln1p(Value),
    /// `yes` where the test holds, `no` elsewhere.
    Select(Test, Value, Value),
}

/// A comparison of a value with a constant, as [`Num`]'s masks are made.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct Test {
    /// Which comparison.
    pub cmp: Cmp,
    /// The compared value.
    pub value: Value,
    /// The constant it is compared with.
    pub k: Const,
}

/// The comparisons of [`Num`]: `≥`, `>`, `=`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Cmp {
    /// `a ≥ k`.
    Ge,
    /// `a > k`.
    Gt,
    /// `a = k`.
    Eq,
}

/// A traced rule: `inputs` values, the ops that follow them, and which values it returns.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Program {
    /// How many input values (`0..inputs`).
    pub inputs: usize,
    /// One op per further value, in order.
    pub ops: Vec<Op>,
    /// The values returned, in order.
    pub outputs: Vec<Value>,
}

#[derive(Debug, Default)]
struct Tape {
    inputs: usize,
    ops: Vec<Op>,
    consts: Vec<f32>,
}

/// A value of a rule being traced (see the module documentation).
#[derive(Clone, Debug)]
pub struct Traced {
    value: Value,
    tape: Rc<RefCell<Tape>>,
}

impl Traced {
    fn push(&self, op: Op) -> Self {
        let mut tape = self.tape.borrow_mut();
        let value = tape.inputs + tape.ops.len();
        tape.ops.push(op);
        Self {
            value: Value::try_from(value).expect("a traced rule of at most 65 535 values"),
            tape: Rc::clone(&self.tape),
        }
    }

    fn constant(&self, k: f32) -> Const {
        let mut tape = self.tape.borrow_mut();
        tape.consts.push(k);
        Const::try_from(tape.consts.len() - 1).expect("a traced rule of at most 65 535 constants")
    }
}

/// Traces `f` on `inputs` values: the program it runs and the constants it runs with.
pub fn trace(inputs: usize, f: impl FnOnce(Vec<Traced>) -> Vec<Traced>) -> (Program, Vec<f32>) {
    let tape = Rc::new(RefCell::new(Tape {
        inputs,
        ..Tape::default()
    }));
    let values = (0..inputs)
        .map(|i| Traced {
            value: Value::try_from(i).expect("at most 65 535 inputs"),
            tape: Rc::clone(&tape),
        })
        .collect();
    let outputs = f(values).iter().map(|t| t.value).collect();
    let tape = tape.take();
    (
        Program {
            inputs,
            ops: tape.ops,
            outputs,
        },
        tape.consts,
    )
}

macro_rules! binary {
    ($trait:ident, $method:ident, $op:ident) => {
        impl $trait for Traced {
            type Output = Traced;

            fn $method(self, rhs: Traced) -> Traced {
                self.push(Op::$op(self.value, rhs.value))
            }
        }
    };
}

binary!(Add, add, Add);
binary!(Sub, sub, Sub);
binary!(Mul, mul, Mul);
binary!(Div, div, Div);

impl Neg for Traced {
    type Output = Traced;

    fn neg(self) -> Traced {
        self.push(Op::Neg(self.value))
    }
}

impl Num for Traced {
    type Mask = Test;

    fn scale(self, k: f32) -> Self {
        let k = self.constant(k);
        self.push(Op::Scale(self.value, k))
    }

    fn div_k(self, k: f32) -> Self {
        let k = self.constant(k);
        self.push(Op::DivK(self.value, k))
    }

    fn shift(self, k: f32) -> Self {
        let k = self.constant(k);
        self.push(Op::Shift(self.value, k))
    }

    fn sqrt(self) -> Self {
        self.push(Op::Sqrt(self.value))
    }

    fn recip(self) -> Self {
        self.push(Op::Recip(self.value))
    }

    fn zeros_like(&self) -> Self {
        self.push(Op::Zero)
    }

    fn abs(self) -> Self {
        self.push(Op::Abs(self.value))
    }

    fn max(self, other: Self) -> Self {
        self.push(Op::Max(self.value, other.value))
    }

    fn max_k(self, k: f32) -> Self {
        let k = self.constant(k);
        self.push(Op::MaxK(self.value, k))
    }

    fn signum(self) -> Self {
        self.push(Op::Signum(self.value))
    }

    fn exp(self) -> Self {
        self.push(Op::Exp(self.value))
    }

    fn ln(self) -> Self {
        self.push(Op::Ln(self.value))
    }

    fn ln_1p(self) -> Self {
        self.push(Op::Ln1p(self.value))
    }

    fn ge_k(&self, k: f32) -> Test {
        self.test(Cmp::Ge, k)
    }

    fn gt_k(&self, k: f32) -> Test {
        self.test(Cmp::Gt, k)
    }

    fn eq_k(&self, k: f32) -> Test {
        self.test(Cmp::Eq, k)
    }

    fn select(mask: Test, yes: Self, no: Self) -> Self {
        yes.push(Op::Select(mask, yes.value, no.value))
    }

    fn may_hold(_: &Test) -> bool {
        // Decided per element on the device.
        true
    }
}

impl Traced {
    fn test(&self, cmp: Cmp, k: f32) -> Test {
        Test {
            cmp,
            value: self.value,
            k: self.constant(k),
        }
    }
}

/// Evaluates `program` on one element of `f32` inputs with `consts`, as the kernel does: the
/// reference the kernel is tested against, and a check of the tracer itself.
pub fn eval(program: &Program, consts: &[f32], inputs: &[f32]) -> Vec<f32> {
    assert_eq!(inputs.len(), program.inputs, "program inputs");
    let mut v: Vec<f32> = inputs.to_vec();
    let c = |k: Const| consts[usize::from(k)];
    for op in &program.ops {
        let x = |a: Value| v[usize::from(a)];
        let out = match *op {
            Op::Add(a, b) => x(a) + x(b),
            Op::Sub(a, b) => x(a) - x(b),
            Op::Mul(a, b) => x(a) * x(b),
            Op::Div(a, b) => x(a) / x(b),
            Op::Neg(a) => -x(a),
            Op::Scale(a, k) => x(a) * c(k),
            Op::DivK(a, k) => x(a) / c(k),
            Op::Shift(a, k) => x(a) + c(k),
            Op::Sqrt(a) => x(a).sqrt(),
            Op::Recip(a) => 1.0 / x(a),
            Op::Zero => 0.0,
            Op::Abs(a) => x(a).abs(),
            Op::Max(a, b) => x(a).max(x(b)),
            Op::MaxK(a, k) => x(a).max(c(k)),
            Op::Signum(a) => Num::signum(x(a)),
            Op::Exp(a) => x(a).exp(),
            Op::Ln(a) => x(a).ln(),
            Op::Ln1p(a) => x(a).ln_1p(),
            Op::Select(t, yes, no) => {
                let (a, k) = (x(t.value), c(t.k));
                let holds = match t.cmp {
                    Cmp::Ge => a >= k,
                    Cmp::Gt => a > k,
                    Cmp::Eq => a == k,
                };
                if holds { x(yes) } else { x(no) }
            }
        };
        v.push(out);
    }
    program.outputs.iter().map(|&o| v[usize::from(o)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ema;

    /// An Adam-like rule with a branch on a host constant and a select.
    fn rule<T: Num>(p: T, g: T, s: &mut [T], lr: f32, clip: bool) -> T {
        let ema = Ema::new(0.9);
        s[0] = ema.of(s[0].clone(), g.clone());
        s[1] = s[1].clone().max(g.clone().abs());
        let step = s[0].clone() / s[1].clone().shift(1e-8);
        let step = if clip {
            let big = step.ge_k(1.0);
            T::select(big, step.zeros_like().shift(1.0), step)
        } else {
            step
        };
        p - step.scale(lr)
    }

    fn traced(lr: f32, clip: bool) -> (Program, Vec<f32>) {
        trace(4, |v| {
            let (p, g) = (v[0].clone(), v[1].clone());
            let mut s = [v[2].clone(), v[3].clone()];
            let p = rule(p, g, &mut s, lr, clip);
            vec![p, s[0].clone(), s[1].clone()]
        })
    }

    #[test]
    fn a_traced_rule_evaluates_to_the_rule_on_scalars() {
        let (program, consts) = traced(0.1, true);
        for (p, g, m, v) in [
            (1.0f32, 0.5, 0.2, 0.7),
            (-2.0, 30.0, 1.0, 0.1),
            (0.0, -0.0, 0.0, 0.0),
        ] {
            let mut s = [m, v];
            let want = rule(p, g, &mut s, 0.1, true);
            let got = eval(&program, &consts, &[p, g, m, v]);
            assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                [want, s[0], s[1]]
                    .iter()
                    .map(|x| x.to_bits())
                    .collect::<Vec<_>>(),
            );
        }
    }

    #[test]
    fn another_step_is_the_same_program_and_a_host_branch_another() {
        let (a, ca) = traced(0.1, true);
        let (b, cb) = traced(0.05, true);
        let (c, _) = traced(0.1, false);
        assert_eq!(a, b);
        assert_ne!(ca, cb);
        assert_ne!(a, c);
        assert!(a.ops.iter().any(|op| matches!(op, Op::Select(..))));
    }
}
