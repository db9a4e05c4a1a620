use crate::Role;

/// Why a swap cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The parameters are for the other role.
    #[error("swap parameters are not for the {expected:?} role")]
    WrongRole {
        /// The role the constructor builds.
        expected: Role,
    },
    /// The secret does not hash to the agreed hashlock.
    #[error("the secret does not hash to the hashlock")]
    SecretMismatch,
    /// A timing rule is violated.
    #[error("invalid swap timing: {reason}")]
    InvalidTiming {
        /// Which rule.
        reason: &'static str,
    },
    /// A leg locks nothing.
    #[error("both legs must lock a non-zero amount")]
    ZeroAmount,
    /// The legs do not swap between the same two parties.
    #[error("each leg's recipient must be the other leg's sender")]
    PartiesMismatch,
}
