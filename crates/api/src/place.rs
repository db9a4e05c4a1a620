//! Placing an order the node signs (`POST /v1/orders`): the request converted exactly into
//! the node's [`PlaceOrder`].

use dex_node::PlaceOrder;

use crate::{
    error::ApiError,
    types::{PlaceOrderRequest, TimeInForce},
};

/// Converts a place request exactly, naming the field at fault: unknown market, non-decimal,
/// negative, zero, too many digits, off the tick or lot grid, minFill above quantity.
pub fn parse_place_order(
    markets: &dex_primitives::Markets,
    request: &PlaceOrderRequest,
) -> Result<PlaceOrder, ApiError> {
    let market = markets
        .find(&request.market)
        .map_err(|source| ApiError::field("market", source))?;
    let price = market
        .parse_price(&request.price)
        .map_err(|source| ApiError::field("price", source))?;
    let quantity = market
        .parse_quantity(&request.quantity)
        .map_err(|source| ApiError::field("quantity", source))?;
    let min_fill = match &request.min_fill {
        Some(text) => Some(
            market
                .parse_quantity(text)
                .map_err(|source| ApiError::field("minFill", source))?,
        ),
        None => None,
    };
    if let Some(min_fill) = min_fill
        && min_fill > quantity
    {
        return Err(ApiError::field(
            "minFill",
            dex_primitives::Error::MinFillAboveQuantity {
                min_fill: min_fill.0,
                quantity: quantity.0,
            },
        ));
    }
    if request.expires_in == Some(0) {
        return Err(ApiError::field(
            "expiresIn",
            dex_primitives::Error::ZeroValue { what: "expiresIn" },
        ));
    }
    let expires_in_ms = match request.expires_in {
        Some(seconds) => Some(seconds.checked_mul(1000).ok_or_else(|| {
            ApiError::field(
                "expiresIn",
                dex_primitives::Error::OutOfRange {
                    what: "expiresIn",
                    value: seconds.to_string(),
                    max: (u64::MAX / 1000).to_string(),
                },
            )
        })?),
        None => None,
    };
    Ok(PlaceOrder {
        market: market.id(),
        side: request.side.into(),
        price,
        quantity,
        min_fill,
        time_in_force: match request.time_in_force {
            TimeInForce::Gtc => dex_node::TimeInForce::Gtc,
            TimeInForce::Ioc => dex_node::TimeInForce::Ioc,
        },
        expires_in_ms,
        maker: None,
        client_order_id: match &request.client_order_id {
            Some(id) => Some(check_client_order_id(id)?.to_owned()),
            None => None,
        },
    })
}

/// A client order id of the accepted form: 1 to 64 characters of `A-Z a-z 0-9 . _ - :`
/// (what exchange clients generate; nothing that needs escaping in a URL path).
pub(crate) fn check_client_order_id(id: &str) -> Result<&str, ApiError> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b':'));
    if valid {
        Ok(id)
    } else {
        Err(ApiError::InvalidClientOrderId {
            id: id.chars().take(100).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use dex_test_utils::markets;

    use super::*;
    use crate::types::SideName;
    use dex_primitives::{Lots, Ticks};

    fn request(price: &str, quantity: &str) -> PlaceOrderRequest {
        PlaceOrderRequest {
            market: "ETH/USDC".into(),
            side: SideName::Buy,
            price: price.into(),
            quantity: quantity.into(),
            min_fill: None,
            time_in_force: TimeInForce::Gtc,
            expires_in: None,
            client_order_id: None,
        }
    }

    fn slug(request: &PlaceOrderRequest) -> (&'static str, Option<String>) {
        match parse_place_order(markets(), request) {
            Ok(_) => ("ok", None),
            Err(err) => (err.kind().slug, err.problem().field),
        }
    }

    #[test]
    fn place_requests_convert_exactly_or_name_the_fault() {
        let parsed = parse_place_order(markets(), &request("2500.5", "0.25")).unwrap();
        assert_eq!(parsed.price, Ticks(250_050));
        assert_eq!(parsed.quantity, Lots(250));
        assert_eq!(parsed.min_fill, None);
        let field = |name: &str| Some(name.to_owned());
        assert_eq!(
            slug(&request("abc", "1")),
            ("invalid-decimal", field("price"))
        );
        assert_eq!(
            slug(&request("1e3", "1")),
            ("invalid-decimal", field("price"))
        );
        assert_eq!(
            slug(&request("-1", "1")),
            ("negative-value", field("price"))
        );
        assert_eq!(slug(&request("0", "1")), ("zero-value", field("price")));
        assert_eq!(
            slug(&request("1", "0.0")),
            ("zero-value", field("quantity"))
        );
        assert_eq!(
            slug(&request("2500.005", "1")),
            ("off-tick", field("price"))
        );
        assert_eq!(
            slug(&request("2500", "0.0005")),
            ("off-lot", field("quantity"))
        );
        assert_eq!(
            slug(&request("0.00000000000000000000000000001", "1")),
            ("too-many-digits", field("price"))
        );
        assert_eq!(
            slug(&request("999999999999999999999", "1")),
            ("out-of-range", field("price"))
        );
        let mut unknown = request("1", "1");
        unknown.market = "BTC/USDC".into();
        assert_eq!(slug(&unknown), ("unknown-market", field("market")));
        let mut min_fill = request("1", "0.002");
        min_fill.min_fill = Some("0.003".into());
        assert_eq!(
            slug(&min_fill),
            ("min-fill-above-quantity", field("minFill"))
        );
        for (id, accepted) in [
            ("a", true),
            ("HBOT-BETHUSDC-1701234567890123", true),
            ("x:y.z_w-1", true),
            (&"9".repeat(64), true),
            (&"9".repeat(65), false),
            ("", false),
            ("a b", false),
            ("a/b", false),
            ("é", false),
        ] {
            let mut named = request("1", "1");
            named.client_order_id = Some(id.to_owned());
            let parsed = parse_place_order(markets(), &named);
            assert_eq!(parsed.is_ok(), accepted, "{id:?}");
            match parsed {
                Ok(order) => assert_eq!(order.client_order_id.as_deref(), Some(id)),
                Err(err) => assert_eq!(err.kind().slug, "invalid-client-order-id"),
            }
        }
    }
}
