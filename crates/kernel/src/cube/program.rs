//! The CubeCL kernels that run a traced [`Program`] as an optimizer step: one thread per `N`
//! elements (a vector of `N` lanes), every input read once, every output written once.
//!
//! ```text
//! p[i], g[i], s[i]… ─> values ─ ops (the program, unrolled at compile time) ─> p'[i], s'[i]…
//! ```
//!
//! The program is the kernel's compile-time key; its constants are run-time scalars, so one
//! compiled kernel serves every step of a rule.

use cubecl::prelude::*;

use crate::trace::{Cmp, Op, Program};

/// One kernel per number of state slots (0 to 4): `p, g, s…` in, `p', s'…` out, with
/// `[p', s'…] = program([p, g, s…], consts)` for each vector of `N` elements.
macro_rules! kernel {
    ($name:ident; $($s:ident => $o:ident @ $j:literal),*) => {
        /// The update of one vector of elements per thread (see the module documentation).
        #[cube(launch_unchecked)]
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name<F: Float, N: Size>(
            p: &Tensor<Vector<F, N>>,
            g: &Tensor<Vector<F, N>>,
            $($s: &Tensor<Vector<F, N>>,)*
            p_out: &mut Tensor<Vector<F, N>>,
            $($o: &mut Tensor<Vector<F, N>>,)*
            consts: &Sequence<InputScalar>,
            #[comptime] program: Program,
            #[define(F)] _dtype: ElemType,
        ) {
            let pos = ABSOLUTE_POS;
            if pos >= p_out.len() {
                terminate!();
            }
            let mut values = Sequence::<Vector<F, N>>::new();
            values.push(p[pos]);
            values.push(g[pos]);
            $(values.push($s[pos]);)*
            let results = interpret::<F, N>(values, consts, program);
            p_out[pos] = results[0];
            $($o[pos] = results[$j];)*
        }
    };
}

kernel!(step_0;);
kernel!(step_1; s0 => o0 @ 1);
kernel!(step_2; s0 => o0 @ 1, s1 => o1 @ 2);
kernel!(step_3; s0 => o0 @ 1, s1 => o1 @ 2, s2 => o2 @ 3);
kernel!(step_4; s0 => o0 @ 1, s1 => o1 @ 2, s2 => o2 @ 3, s3 => o3 @ 4);

/// Host stub of [`interpret`](mod@interpret): expanded only, never run on the host.
#[allow(unused_variables)]
pub(crate) fn interpret<F: Float, N: Size>(
    values: Sequence<Vector<F, N>>,
    consts: &Sequence<InputScalar>,
    program: Program,
) -> Sequence<Vector<F, N>> {
    cubecl::unexpanded!()
}

/// The program's ops expanded one by one into the kernel, each through one of the small
/// `#[cube]` functions below.
pub(crate) mod interpret {
    use super::*;

    type V<F, N> = NativeExpand<Vector<F, N>>;

    pub(crate) fn expand<F: Float, N: Size>(
        scope: &Scope,
        values: SequenceExpand<Vector<F, N>>,
        consts: &SequenceExpand<InputScalar>,
        program: Program,
    ) -> SequenceExpand<Vector<F, N>> {
        let mut v: Vec<V<F, N>> = values.into_iter().collect();
        let c: Vec<InputScalarExpand> = consts.clone().into_iter().collect();
        for op in &program.ops {
            let x = |a: u16| v[usize::from(a)];
            let k = |i: u16| c[usize::from(i)].clone();
            let out = match *op {
                Op::Add(a, b) => add::expand::<F, N>(scope, x(a), x(b)),
                Op::Sub(a, b) => sub::expand::<F, N>(scope, x(a), x(b)),
                Op::Mul(a, b) => mul::expand::<F, N>(scope, x(a), x(b)),
                Op::Div(a, b) => div::expand::<F, N>(scope, x(a), x(b)),
                Op::Neg(a) => neg::expand::<F, N>(scope, x(a)),
                Op::Scale(a, i) => scale::expand::<F, N>(scope, x(a), k(i)),
                Op::DivK(a, i) => div_k::expand::<F, N>(scope, x(a), k(i)),
                Op::Shift(a, i) => shift::expand::<F, N>(scope, x(a), k(i)),
                Op::Sqrt(a) => sqrt::expand::<F, N>(scope, x(a)),
                Op::Recip(a) => recip::expand::<F, N>(scope, x(a)),
                Op::Zero => zero::expand::<F, N>(scope),
                Op::Abs(a) => abs::expand::<F, N>(scope, x(a)),
                Op::Max(a, b) => max2::expand::<F, N>(scope, x(a), x(b)),
                Op::MaxK(a, i) => max_k::expand::<F, N>(scope, x(a), k(i)),
                Op::Signum(a) => signum::expand::<F, N>(scope, x(a)),
                Op::Exp(a) => exp::expand::<F, N>(scope, x(a)),
                Op::Ln(a) => ln::expand::<F, N>(scope, x(a)),
                Op::Ln1p(a) => ln_1p::expand::<F, N>(scope, x(a)),
                Op::Select(t, yes, no) => {
                    let (a, kk) = (x(t.value), k(t.k));
                    match t.cmp {
                        Cmp::Ge => select_ge::expand::<F, N>(scope, a, kk, x(yes), x(no)),
                        Cmp::Gt => select_gt::expand::<F, N>(scope, a, kk, x(yes), x(no)),
                        Cmp::Eq => select_eq::expand::<F, N>(scope, a, kk, x(yes), x(no)),
                    }
                }
            };
            v.push(out);
        }
        let mut out = Sequence::<Vector<F, N>>::__expand_new(scope);
        for &o in &program.outputs {
            out.__expand_push_method(scope, v[usize::from(o)]);
        }
        out
    }
}

#[cube]
fn add<F: Float, N: Size>(a: Vector<F, N>, b: Vector<F, N>) -> Vector<F, N> {
    a + b
}

#[cube]
fn sub<F: Float, N: Size>(a: Vector<F, N>, b: Vector<F, N>) -> Vector<F, N> {
    a - b
}

#[cube]
fn mul<F: Float, N: Size>(a: Vector<F, N>, b: Vector<F, N>) -> Vector<F, N> {
    a * b
}

#[cube]
fn div<F: Float, N: Size>(a: Vector<F, N>, b: Vector<F, N>) -> Vector<F, N> {
    a / b
}

#[cube]
fn neg<F: Float, N: Size>(a: Vector<F, N>) -> Vector<F, N> {
    -a
}

#[cube]
fn constant<F: Float, N: Size>(k: InputScalar) -> Vector<F, N> {
    Vector::new(k.get::<F>())
}

#[cube]
fn scale<F: Float, N: Size>(a: Vector<F, N>, k: InputScalar) -> Vector<F, N> {
    a * constant::<F, N>(k)
}

#[cube]
fn div_k<F: Float, N: Size>(a: Vector<F, N>, k: InputScalar) -> Vector<F, N> {
    a / constant::<F, N>(k)
}

#[cube]
fn shift<F: Float, N: Size>(a: Vector<F, N>, k: InputScalar) -> Vector<F, N> {
    a + constant::<F, N>(k)
}

#[cube]
fn sqrt<F: Float, N: Size>(a: Vector<F, N>) -> Vector<F, N> {
    Vector::sqrt(a)
}

#[cube]
fn recip<F: Float, N: Size>(a: Vector<F, N>) -> Vector<F, N> {
    Vector::new(F::new(1.0)) / a
}

#[cube]
fn zero<F: Float, N: Size>() -> Vector<F, N> {
    Vector::new(F::new(0.0))
}

#[cube]
fn abs<F: Float, N: Size>(a: Vector<F, N>) -> Vector<F, N> {
    Vector::abs(a)
}

#[cube]
fn max2<F: Float, N: Size>(a: Vector<F, N>, b: Vector<F, N>) -> Vector<F, N> {
    max(a, b)
}

#[cube]
fn max_k<F: Float, N: Size>(a: Vector<F, N>, k: InputScalar) -> Vector<F, N> {
    max(a, constant::<F, N>(k))
}

#[cube]
fn signum<F: Float, N: Size>(a: Vector<F, N>) -> Vector<F, N> {
    let zero = Vector::new(F::new(0.0));
    let sign = select_many(a.less_than(&zero), Vector::new(F::new(-1.0)), zero);
    select_many(a.greater_than(&zero), Vector::new(F::new(1.0)), sign)
}

#[cube]
fn exp<F: Float, N: Size>(a: Vector<F, N>) -> Vector<F, N> {
    Vector::exp(a)
}

#[cube]
fn ln<F: Float, N: Size>(a: Vector<F, N>) -> Vector<F, N> {
    Vector::ln(a)
}

#[cube]
fn ln_1p<F: Float, N: Size>(a: Vector<F, N>) -> Vector<F, N> {
    Vector::log1p(a)
}

/// `yes` where `a` compares with `k` as `$cmp` says, `no` elsewhere.
macro_rules! select {
    ($name:ident, $cmp:ident) => {
        #[cube]
        fn $name<F: Float, N: Size>(
            a: Vector<F, N>,
            k: InputScalar,
            yes: Vector<F, N>,
            no: Vector<F, N>,
        ) -> Vector<F, N> {
            select_many(a.$cmp(&constant::<F, N>(k)), yes, no)
        }
    };
}

select!(select_ge, greater_equal);
select!(select_gt, greater_than);
select!(select_eq, equal);
