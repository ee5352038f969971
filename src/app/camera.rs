//! The orbit camera: it circles a target point. Input sets where it should go (`goal`); each
//! frame it moves part of the way there, so every movement, fly-to included, is damped.

use bevy::prelude::*;

/// Orbit parameters: the camera looks at `target` from `distance` away, at `yaw` around the
/// vertical axis and `pitch` above the horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orbit {
    pub target: Vec3,
    pub yaw: f32,
    pub pitch: f32,
    pub distance: f32,
}

impl Orbit {
    pub fn transform(&self) -> Transform {
        let rotation = Quat::from_euler(EulerRot::YXZ, self.yaw, -self.pitch, 0.0);
        let eye = self.target + rotation * Vec3::new(0.0, 0.0, self.distance);
        Transform::from_translation(eye).looking_at(self.target, Vec3::Y)
    }

    fn approach(&mut self, goal: &Orbit, t: f32) {
        self.target = self.target.lerp(goal.target, t);
        self.yaw += (goal.yaw - self.yaw) * t;
        self.pitch += (goal.pitch - self.pitch) * t;
        // Zoom in log space, so that it feels the same near and far.
        self.distance = (self.distance.ln() + (goal.distance.ln() - self.distance.ln()) * t).exp();
    }

    fn close_to(&self, goal: &Orbit) -> bool {
        self.target.distance(goal.target) < 1e-3 * goal.distance
            && (self.yaw - goal.yaw).abs() < 1e-4
            && (self.pitch - goal.pitch).abs() < 1e-4
            && (self.distance / goal.distance - 1.0).abs() < 1e-4
    }
}

/// The camera's state: where it is, where it is going, and the view that R returns to.
#[derive(Component, Debug, Clone)]
pub struct OrbitCamera {
    pub current: Orbit,
    pub goal: Orbit,
    pub home: Orbit,
}

pub const MIN_PITCH: f32 = -1.5;
pub const MAX_PITCH: f32 = 1.5;

impl OrbitCamera {
    /// A camera that frames a cloud with this centre and radius: the sphere fits bevy's default
    /// 45° vertical field of view in a view somewhat taller than wide (the space between panels).
    pub fn framing(centre: Vec3, radius: f32) -> Self {
        let half_fov = (std::f32::consts::FRAC_PI_8.tan() * 0.85).atan();
        let distance = (radius / half_fov.sin()).max(1e-3);
        let home = Orbit { target: centre, yaw: 0.6, pitch: 0.35, distance };
        Self { current: home, goal: home, home }
    }

    /// Moves to another framing (a new map of the same songs) but keeps the angle the user chose.
    pub fn reframe(&mut self, framing: &OrbitCamera) {
        self.home = framing.home;
        self.goal.target = framing.home.target;
        self.goal.distance = framing.home.distance;
    }

    pub fn orbit_by(&mut self, yaw: f32, pitch: f32) {
        self.goal.yaw += yaw;
        self.goal.pitch = (self.goal.pitch + pitch).clamp(MIN_PITCH, MAX_PITCH);
    }

    /// Zooms by a factor (< 1 is closer), keeping the point `towards` (if any) under the cursor:
    /// the target moves towards it by the fraction the distance shrinks.
    pub fn zoom_by(&mut self, factor: f32, towards: Option<Vec3>) {
        let old = self.goal.distance;
        let new = (old * factor).clamp(self.home.distance * 0.002, self.home.distance * 20.0);
        if let Some(point) = towards {
            self.goal.target += (point - self.goal.target) * (1.0 - new / old);
        }
        self.goal.distance = new;
    }

    /// Moves the target within the view plane; `right` and `up` are in units of the distance.
    pub fn pan_by(&mut self, right: f32, up: f32) {
        let transform = self.goal.transform();
        self.goal.target += (transform.right() * right + transform.up() * up) * self.goal.distance;
    }

    /// Flies to a point, closer than now if far away.
    pub fn focus_on(&mut self, point: Vec3) {
        self.goal.target = point;
        self.goal.distance = self.goal.distance.min(self.home.distance * 0.5);
    }

    pub fn reset(&mut self) {
        self.goal = self.home;
    }

    /// Advances the damped motion by `seconds`; true while still moving.
    pub fn advance(&mut self, seconds: f32) -> bool {
        if self.current.close_to(&self.goal) {
            self.current = self.goal;
            return false;
        }
        let t = 1.0 - (-seconds * 12.0).exp();
        self.current.approach(&self.goal, t.clamp(0.0, 1.0));
        true
    }

    pub fn is_settled(&self) -> bool {
        self.current == self.goal
    }
}

pub fn apply_orbit(time: Res<Time>, mut cameras: Query<(&mut OrbitCamera, &mut Transform)>) {
    for (mut orbit, mut transform) in &mut cameras {
        if orbit.advance(time.delta_secs()) || *transform != orbit.current.transform() {
            *transform = orbit.current.transform();
        }
    }
}

/// Seconds without input before the camera starts turning on its own (when asked to).
const IDLE_BEFORE_ORBIT: std::time::Duration = std::time::Duration::from_secs(4);
/// Radians per second of the idle orbit: one turn in about 80 s.
const IDLE_ORBIT_SPEED: f32 = 0.08;

/// With "turn slowly when left alone" on (Map & view), turns the camera around the cloud once
/// nobody has moved the pointer, scrolled, or held a key or button for a few seconds.
#[allow(clippy::too_many_arguments)]
pub fn idle_orbit(
    time: Res<Time<Real>>,
    view: Res<super::state::ViewState>,
    mut quiet_since: Local<Option<std::time::Duration>>,
    mut moved: MessageReader<bevy::window::CursorMoved>,
    mut wheel: MessageReader<bevy::input::mouse::MouseWheel>,
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    mut cameras: Query<&mut OrbitCamera>,
) {
    let pointer = moved.read().count() > 0;
    let scrolled = wheel.read().count() > 0;
    let held = keys.get_pressed().next().is_some() || buttons.get_pressed().next().is_some();
    let now = time.elapsed();
    if pointer || scrolled || held || quiet_since.is_none() {
        *quiet_since = Some(now);
    }
    if !view.idle_orbit || quiet_since.is_some_and(|since| now - since < IDLE_BEFORE_ORBIT) {
        return;
    }
    let turn = IDLE_ORBIT_SPEED * time.delta_secs();
    for mut camera in &mut cameras {
        camera.current.yaw += turn;
        camera.goal.yaw += turn;
    }
}

/// The camera that frames every song of `explorer`.
pub(crate) fn frame_cloud(explorer: &crate::explore::Explorer) -> OrbitCamera {
    let (centre, radius) = super::animate::frame_of((0..explorer.len()).map(|row| explorer.map().position(row)));
    OrbitCamera::framing(centre, radius.max(1e-3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_camera_looks_at_its_target_from_its_distance() {
        let orbit = Orbit { target: Vec3::new(1.0, 2.0, 3.0), yaw: 0.4, pitch: 0.3, distance: 10.0 };
        let t = orbit.transform();
        assert!((t.translation.distance(orbit.target) - 10.0).abs() < 1e-4);
        assert!((t.forward().dot((orbit.target - t.translation).normalize()) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn damped_motion_reaches_the_goal_and_stops() {
        let mut camera = OrbitCamera::framing(Vec3::ZERO, 10.0);
        camera.focus_on(Vec3::new(5.0, 0.0, 0.0));
        camera.orbit_by(1.0, 5.0);
        assert!(camera.goal.pitch <= MAX_PITCH, "pitch is clamped short of the pole");
        let mut frames = 0;
        while camera.advance(1.0 / 60.0) {
            frames += 1;
            assert!(frames < 600, "still moving after 10 s");
        }
        assert!(camera.is_settled());
        assert_eq!(camera.current.target, Vec3::new(5.0, 0.0, 0.0));
        camera.reset();
        assert_eq!(camera.goal, camera.home);
    }

    #[test]
    fn zooming_towards_a_point_moves_the_target_towards_it() {
        let mut camera = OrbitCamera::framing(Vec3::ZERO, 10.0);
        let d = camera.goal.distance;
        camera.zoom_by(0.5, Some(Vec3::new(4.0, 0.0, 0.0)));
        assert!((camera.goal.distance - d * 0.5).abs() < 1e-4);
        assert!((camera.goal.target - Vec3::new(2.0, 0.0, 0.0)).length() < 1e-4);
    }
}
