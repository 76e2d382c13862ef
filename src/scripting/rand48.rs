//! Redis's `redisLrand48` (rand.c) behind math.random / math.randomseed:
//! the 48-bit LCG of POSIX lrand48. Redis 7.0 replicates effects, so it no
//! longer reseeds per script: one sequence per process, from rand.c's
//! static initial state, going on from script to script (SCRIPT FLUSH does
//! not reset it); `math.randomseed(n)` reseeds it.

use std::cell::Cell;

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// REDIS_LRAND48_MAX.
const MAX: i64 = i32::MAX as i64;

thread_local! {
    // rand.c's static initial state (X2, X1, X0 = 0x1234, 0xABCD, 0x330E):
    // a fresh Redis draws the same numbers, and so does memkv.
    static STATE: Cell<u64> = const { Cell::new(0x1234_ABCD_330E) };
}

/// redisSrand48: x = seed << 16 | 0x330E.
pub fn seed(s: i32) {
    STATE.with(|x| x.set((((s as u32) as u64) << 16 | 0x330E) & MASK));
}

/// redisLrand48: the next 31-bit value.
pub fn next() -> i64 {
    STATE.with(|x| {
        let v = (x.get().wrapping_mul(A).wrapping_add(C)) & MASK;
        x.set(v);
        (v >> 17) as i64
    })
}

/// math.random([m [, n]]) of Redis's patched lmathlib.c; `Err` is the
/// Lua error text.
pub fn lua_random(args: &[f64]) -> Result<f64, &'static str> {
    let r = (next() % MAX) as f64 / MAX as f64;
    match args.len() {
        0 => Ok(r),
        1 => {
            let u = args[0].floor();
            if u < 1.0 {
                return Err("bad argument #1 to 'random' (interval is empty)");
            }
            Ok((r * u).floor() + 1.0)
        }
        2 => {
            let (l, u) = (args[0].floor(), args[1].floor());
            if l > u {
                return Err("bad argument #2 to 'random' (interval is empty)");
            }
            Ok((r * (u - l + 1.0)).floor() + l)
        }
        _ => Err("wrong number of arguments"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_state_is_rand_c_static_one() {
        // A fresh Redis 7.0: math.random() -> 0.39646477363839.
        assert_eq!(STATE.with(|x| x.get()), 0x1234_ABCD_330E);
    }

    #[test]
    fn matches_posix_lrand48_with_seed_zero() {
        // glibc: srand48(0); lrand48() -> 366850414, 1610402240
        seed(0);
        assert_eq!(next(), 366850414);
        assert_eq!(next(), 1610402240);
    }
}
