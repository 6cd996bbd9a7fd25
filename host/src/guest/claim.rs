//! Verified identity through the guest: the guest names the token (`edgeseg_identity_claim`,
//! read exactly as its decision reads the identity), the host checks it natively
//! ([`crate::identity`]) and re-encodes the request with the id it proved.

use super::instance::{Budget, Live, trap};
use super::{Guest, GuestError, call_budget, unavailable};
use edgeseg::Request;
use edgeseg::abi::ClaimResult;

impl Guest {
    /// `buf` (the postcard `request`) with `verified_id` set to what its token proves; unchanged
    /// when there is no token to check or it proves nothing (the guest then decides anonymous).
    pub(super) fn verify_identity(
        &mut self,
        handle: u32,
        request: &Request<'_>,
        buf: Vec<u8>,
    ) -> Result<Vec<u8>, GuestError> {
        if request.verified_id.is_some() {
            return Ok(buf);
        }
        let Some(id) = self.prove_encoded(handle, request.now_ms, &buf)? else { return Ok(buf) };
        let proved = Request { verified_id: Some(&id), ..request.clone() };
        let mut buf = buf;
        buf.clear();
        postcard::to_extend(&proved, buf).map_err(|e| GuestError::Host(format!("encoding the request: {e}")))
    }

    /// The id the request's identity token proves under the serving snapshot's verified identity
    /// source (`None`: no token, or it proves nothing — counted by reason in
    /// [`Guest::identity_verifier`]). What a host sets as `Request::verified_id` before it asks
    /// for a shard or a decision; [`Guest::decide`] does it itself when the request has none.
    pub fn prove_identity(&mut self, request: &Request<'_>) -> Result<Option<String>, GuestError> {
        let Some(current) = self.current.as_ref() else { return Err(GuestError::NoSnapshot) };
        if !current.info.verifies_identity || request.verified_id.is_some() {
            return Ok(None);
        }
        let handle = current.info.handle;
        let buf = postcard::to_stdvec(request).map_err(|e| GuestError::Host(format!("encoding the request: {e}")))?;
        self.prove_encoded(handle, request.now_ms, &buf)
    }

    fn prove_encoded(&mut self, handle: u32, now_ms: u64, buf: &[u8]) -> Result<Option<String>, GuestError> {
        let claim = self.with_recovery(|g| {
            let fuel = call_budget(&g.config);
            let Guest { live, answer_buf, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            call_claim(live, handle, buf, fuel, answer_buf)
        })?;
        let Some((token, verify)) = claim else { return Ok(None) };
        Ok(self.verifier.verify(&token, &verify, now_ms).ok())
    }

    /// The identity verifier: its counters, and HMAC secrets set by the host.
    pub fn identity_verifier(&mut self) -> &mut crate::identity::Verifier {
        &mut self.verifier
    }
}

fn call_claim(
    live: &mut Live,
    handle: u32,
    request: &[u8],
    fuel: Budget,
    answer: &mut Vec<u8>,
) -> Result<Option<(String, edgeseg::snapshot::Verify)>, GuestError> {
    let (ptr, len) = live.request_buffer(request, fuel)?;
    live.arm(fuel);
    let packed = live.exports.identity_claim.call(&mut live.store, (handle, ptr, len)).map_err(trap)?;
    live.take_answer(packed, fuel, answer)?;
    let decoded: ClaimResult<'_> = postcard::from_bytes(answer)
        .map_err(|e| GuestError::Host(format!("undecodable identity_claim answer ({} bytes): {e}", answer.len())))?;
    match decoded {
        Ok(claim) => Ok(claim.map(|c| (c.token.to_string(), c.verify))),
        Err(e) => Err(GuestError::from(e)),
    }
}
