//! Channel errors as server API errors (Centrifugo's codes).

use switchboard_hub::ChannelError;
use switchboard_protocol::api::ApiError;

use super::Failure;

/// A refused channel operation, as a method-level failure.
pub fn failure(err: ChannelError) -> Failure {
    Failure::method(api_error(&err))
}

/// The API error for a channel error.
pub fn api_error(err: &ChannelError) -> ApiError {
    let code = match err {
        ChannelError::UnknownChannel => 102,
        ChannelError::PermissionDenied => 103,
        ChannelError::AlreadySubscribed => 105,
        ChannelError::LimitExceeded => 106,
        ChannelError::NotAvailable => 108,
        ChannelError::UnrecoverablePosition => 112,
        ChannelError::InsufficientState | ChannelError::Broker(_) => 100,
    };
    ApiError::new(code, err.to_string())
}
