//! Untyped_Retype (SEL4-ABI.md §4.3, §5.3): each object type, and each
//! error of the check order.

use crate::framework::{Env, TestResult};
use crate::{check_eq, check_err, check_ok, tests};
use cerne_abi::object::{CapTag, ObjectType};

fn retype_endpoint(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    check_eq!(ep.identify(), CapTag::Endpoint.word());
    Ok(())
}

fn retype_bad_type(env: &mut Env) -> TestResult {
    let slot = env.slot();
    check_err!(
        env.pool.retype_raw(10, 0, env.root(), 0, 0, slot, 1),
        InvalidArgument,
        [0]
    );
    check_ok!(env
        .pool
        .retype(ObjectType::Endpoint, 0, env.root(), 0, 0, slot, 1));
    Ok(())
}

tests![retype_endpoint, retype_bad_type];
