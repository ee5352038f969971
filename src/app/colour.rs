//! Colours as the GPU and egui want them.

/// An sRGB component in linear light (what the cloud's shader blends in).
pub fn linear(srgb: f32) -> f32 {
    if srgb <= 0.04045 { srgb / 12.92 } else { ((srgb + 0.055) / 1.055).powf(2.4) }
}

pub fn colour32(rgb: [f32; 3]) -> bevy_egui::egui::Color32 {
    let [r, g, b] = rgb.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8);
    bevy_egui::egui::Color32::from_rgb(r, g, b)
}
