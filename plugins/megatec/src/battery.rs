//! Battery charge and runtime guessed from what a Megatec UPS reports
//! (battery voltage and load), as nutdrv_qx does when configured to.
//!
//! Charge from voltage: linear between `battery.voltage.low` (0 %) and
//! `battery.voltage.high` (100 %); without configured limits they are
//! guessed from the nominal voltage (observed: nominal 24 V gives 20.80 and
//! 26.00 V, 12 V gives 10.40 and 13.00 V).
//!
//! Runtime (only with `runtimecal`): the battery holds "seconds at full
//! load"; a load `L` drains it at `(L/100)^k` per second, with `k` fitted
//! to the two calibration points, and mains refills it in `chargetime`.

use crate::settings::RuntimeCal;

/// `battery.voltage.low` and `.high` guessed from the nominal voltage.
pub fn guessed_limits(nominal: f64) -> (f64, f64) {
    (nominal * 104.0 / 120.0, nominal * 130.0 / 120.0)
}

/// Charge in percent from the battery voltage, clamped to 0–100.
pub fn charge_from_voltage(voltage: f64, low: f64, high: f64) -> f64 {
    if high <= low {
        return if voltage >= high { 100.0 } else { 0.0 };
    }
    ((voltage - low) / (high - low) * 100.0).clamp(0.0, 100.0)
}

/// Tracks the energy left in the battery between polls.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeModel {
    /// How load scales drain: drain per second is `(load/100)^exponent`.
    exponent: f64,
    /// Seconds a full battery lasts at 100 % load.
    full_runtime: f64,
    /// Seconds to recharge from empty.
    chargetime: f64,
    /// The lowest load assumed, as a fraction.
    idle_load: f64,
    /// Seconds at 100 % load left, and when it was last advanced (ms).
    state: Option<(f64, u64)>,
}

impl RuntimeModel {
    /// A model from `runtimecal`, `chargetime` (s) and `idleload` (%).
    pub fn new(calibration: RuntimeCal, chargetime: f64, idleload: f64) -> Self {
        let exponent = libm::log(calibration.runtime_low_load / calibration.runtime_high_load)
            / libm::log(calibration.high_load / calibration.low_load);
        let full_runtime = calibration.runtime_high_load * libm::pow(calibration.high_load / 100.0, exponent);
        RuntimeModel { exponent, full_runtime, chargetime, idle_load: idleload / 100.0, state: None }
    }

    /// The fitted exponent.
    pub fn exponent(&self) -> f64 {
        self.exponent
    }

    /// Seconds a full battery lasts at 100 % load.
    pub fn full_runtime(&self) -> f64 {
        self.full_runtime
    }

    /// Whether [`RuntimeModel::start`] has been called.
    pub fn started(&self) -> bool {
        self.state.is_some()
    }

    /// Start from a charge (percent) measured at `now_ms`.
    pub fn start(&mut self, charge: f64, now_ms: u64) {
        self.state = Some((self.full_runtime * charge.clamp(0.0, 100.0) / 100.0, now_ms));
    }

    /// Advance to `now_ms`: charging on mains, draining at `load` % on
    /// battery. Returns (charge %, runtime s), or `None` before `start`.
    pub fn advance(&mut self, now_ms: u64, on_battery: bool, load: f64) -> Option<(f64, f64)> {
        let (left, since) = self.state?;
        let seconds = now_ms.saturating_sub(since) as f64 / 1000.0;
        let drain = libm::pow((load / 100.0).max(self.idle_load), self.exponent);
        let left =
            if on_battery { left - seconds * drain } else { left + seconds * self.full_runtime / self.chargetime }
                .clamp(0.0, self.full_runtime);
        self.state = Some((left, now_ms));
        Some((100.0 * left / self.full_runtime, left / drain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn guessed_limits_from_nominal() {
        let (low, high) = guessed_limits(24.0);
        assert!(close(low, 20.8) && close(high, 26.0));
        let (low, high) = guessed_limits(12.0);
        assert!(close(low, 10.4) && close(high, 13.0));
    }

    #[test]
    fn charge_is_linear_and_clamped() {
        // Observed with nominal 24 V: 23.4 V -> 50, 23.5 -> 52, 24.8 -> 77, 20.0 -> 0, 27.5 -> 100.
        for (voltage, published) in [(23.4, "50"), (23.5, "52"), (24.8, "77"), (20.0, "0"), (27.5, "100")] {
            let charge = charge_from_voltage(voltage, 20.8, 26.0);
            assert_eq!(alloc::format!("{charge:.0}"), published, "{voltage}");
        }
        assert_eq!(charge_from_voltage(5.0, 6.0, 6.0), 0.0);
    }

    #[test]
    fn runtime_model_fits_and_drains() {
        let calibration =
            RuntimeCal { runtime_high_load: 240.0, high_load: 100.0, runtime_low_load: 720.0, low_load: 50.0 };
        let mut model = RuntimeModel::new(calibration, 43_200.0, 10.0);
        // nutdrv_qx logs exponent 1.585 and nominal 240.0 for these values.
        assert_eq!(alloc::format!("{:.3} {:.1}", model.exponent(), model.full_runtime()), "1.585 240.0");
        assert_eq!(model.advance(0, true, 50.0), None);
        model.start(77.0, 1_000);
        // At 50 % load the drain is a third of full load: 184.8 / (1/3).
        let (charge, runtime) = model.advance(1_000, true, 50.0).unwrap();
        assert!(close(charge, 77.0) && (runtime - 554.4).abs() < 0.01, "{charge} {runtime}");
        // Four seconds on battery: four seconds less runtime at the same load.
        let (_, later) = model.advance(5_000, true, 50.0).unwrap();
        assert!((runtime - later - 4.0).abs() < 1e-6, "{runtime} {later}");
        // On mains it refills at full_runtime / chargetime per second.
        let (charge, _) = model.advance(5_000 + 43_200_000, false, 50.0).unwrap();
        assert!(close(charge, 100.0));
        // Loads below idleload count as idleload; a drained battery stays at 0.
        let (_, idle) = model.advance(5_000 + 43_200_000, true, 0.0).unwrap();
        let (_, ten) = model.advance(5_000 + 43_200_000, true, 10.0).unwrap();
        assert!(close(idle, ten));
        let (charge, runtime) = model.advance(u64::MAX, true, 100.0).unwrap();
        assert_eq!((charge, runtime), (0.0, 0.0));
    }
}
