//! Where the text labels of highlighted songs go on screen: beside their point, never over each
//! other, never over another labelled point, inside the view. Greedy in priority order (the
//! selection first), trying positions around the point at growing distances.

/// A screen rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenRect {
    pub min: [f32; 2],
    pub max: [f32; 2],
}

impl ScreenRect {
    pub fn from_min_size(min: [f32; 2], size: [f32; 2]) -> Self {
        Self { min, max: [min[0] + size[0], min[1] + size[1]] }
    }

    pub fn overlaps(&self, other: &ScreenRect) -> bool {
        self.min[0] < other.max[0]
            && other.min[0] < self.max[0]
            && self.min[1] < other.max[1]
            && other.min[1] < self.max[1]
    }

    fn contains_rect(&self, other: &ScreenRect) -> bool {
        other.min[0] >= self.min[0]
            && other.min[1] >= self.min[1]
            && other.max[0] <= self.max[0]
            && other.max[1] <= self.max[1]
    }

    pub fn center(&self) -> [f32; 2] {
        [(self.min[0] + self.max[0]) / 2.0, (self.min[1] + self.max[1]) / 2.0]
    }
}

/// A label to place: the point it belongs to and the size of its text.
#[derive(Debug, Clone, Copy)]
pub struct LabelRequest {
    pub anchor: [f32; 2],
    pub size: [f32; 2],
}

/// Places each label (in the order given, which is priority order). Every label gets a rectangle;
/// when no free spot exists (a very crowded view) the last candidate is used, so nothing goes
/// missing, it may only overlap.
pub fn layout_labels(requests: &[LabelRequest], view: ScreenRect, point_radius: f32) -> Vec<ScreenRect> {
    // The labelled points themselves are obstacles: a label must not hide another highlighted song.
    let points: Vec<ScreenRect> = requests
        .iter()
        .map(|r| ScreenRect {
            min: [r.anchor[0] - point_radius, r.anchor[1] - point_radius],
            max: [r.anchor[0] + point_radius, r.anchor[1] + point_radius],
        })
        .collect();
    let mut placed: Vec<ScreenRect> = Vec::with_capacity(requests.len());
    for request in requests {
        let candidates = candidates(request, point_radius);
        let free = |rect: &ScreenRect| {
            view.contains_rect(rect)
                && !placed.iter().any(|p| p.overlaps(rect))
                && !points.iter().any(|p| p.overlaps(rect))
        };
        let chosen = candidates.iter().find(|c| free(c)).copied().unwrap_or_else(|| clamp_into(candidates[0], view));
        placed.push(chosen);
    }
    placed
}

/// Right, left, above, below and the four diagonals, at three distances.
fn candidates(request: &LabelRequest, point_radius: f32) -> Vec<ScreenRect> {
    let [x, y] = request.anchor;
    let [w, h] = request.size;
    let mut out = Vec::with_capacity(24);
    for step in [1.0f32, 2.5, 4.5] {
        let gap = point_radius + 4.0 * step;
        let offsets = [
            [gap, -h / 2.0],
            [-gap - w, -h / 2.0],
            [-w / 2.0, -gap - h],
            [-w / 2.0, gap],
            [gap, -gap - h],
            [-gap - w, -gap - h],
            [gap, gap],
            [-gap - w, gap],
        ];
        out.extend(offsets.iter().map(|o| ScreenRect::from_min_size([x + o[0], y + o[1]], [w, h])));
    }
    out
}

fn clamp_into(rect: ScreenRect, view: ScreenRect) -> ScreenRect {
    let w = rect.max[0] - rect.min[0];
    let h = rect.max[1] - rect.min[1];
    let x = rect.min[0].clamp(view.min[0], (view.max[0] - w).max(view.min[0]));
    let y = rect.min[1].clamp(view.min[1], (view.max[1] - h).max(view.min[1]));
    ScreenRect::from_min_size([x, y], [w, h])
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEW: ScreenRect = ScreenRect { min: [0.0, 0.0], max: [800.0, 600.0] };

    #[test]
    fn labels_of_nearby_points_do_not_overlap_each_other_or_the_points() {
        // Four songs bunched within a few pixels, as the 3 nearest often are.
        let requests: Vec<LabelRequest> = [[400.0, 300.0], [404.0, 302.0], [398.0, 306.0], [406.0, 296.0]]
            .iter()
            .map(|&anchor| LabelRequest { anchor, size: [140.0, 18.0] })
            .collect();
        let rects = layout_labels(&requests, VIEW, 5.0);
        for (i, a) in rects.iter().enumerate() {
            assert!(VIEW.contains_rect(a));
            for b in &rects[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
            }
            for r in &requests {
                let point = ScreenRect {
                    min: [r.anchor[0] - 5.0, r.anchor[1] - 5.0],
                    max: [r.anchor[0] + 5.0, r.anchor[1] + 5.0],
                };
                assert!(!a.overlaps(&point));
            }
        }
    }

    #[test]
    fn a_label_at_the_right_edge_goes_to_the_left_of_its_point() {
        let rects = layout_labels(&[LabelRequest { anchor: [790.0, 300.0], size: [120.0, 18.0] }], VIEW, 5.0);
        assert!(rects[0].max[0] <= 785.0 && VIEW.contains_rect(&rects[0]), "{:?}", rects[0]);
    }
}
