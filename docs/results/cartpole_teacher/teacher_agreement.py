"""How often each CartPole teacher teaches the action a balancing controller would take (no Brian2, ~30 s).

    python docs/results/cartpole_teacher/teacher_agreement.py > docs/results/cartpole_teacher/teacher_agreement.txt

States come from 200 episodes (seeds 0-199) of a behaviour policy that acts at random with probability eps and
otherwise as the linear controller a = [0.1 x + 0.5 x' + 10 theta + 2 theta' > 0] (which balances 200 steps). For
each step the teacher's verdict (the action taken, or the other one when the step shrank the distance to
failure) is compared with that controller's action in the step's state. 0.5 is chance.
"""
import gymnasium as gym
import numpy as np

env = gym.make("CartPole-v1", max_episode_steps=200)
X_MAX, THETA_MAX = env.unwrapped.x_threshold, env.unwrapped.theta_threshold_radians
BOUNDS = (1.5, 2.0)  # the controller's state_bounds for the velocities


def oracle(s):
    return int(np.dot(s, (0.1, 0.5, 10, 2)) > 0)


def position(s, h=0.0):  # plastlab's failure_distance = "position", horizon h
    return min(1 - abs(s[2] + h * s[3]) / THETA_MAX, 1 - abs(s[0] + h * s[1]) / X_MAX)


def state(s):  # plastlab's failure_distance = "state", horizon 0
    return (2 - abs(s[2]) / THETA_MAX - abs(s[0]) / X_MAX + 2 - abs(s[1]) / BOUNDS[0] - abs(s[3]) / BOUNDS[1]) / 4


TEACHERS = {
    "position, horizon 0 (current angle and position)": lambda s, s1, s2: position(s1) < position(s),
    "position, judge_delay 1 (the next step's change)": lambda s, s1, s2: position(s2) < position(s1),
    "position, horizon 0.2 s (look-ahead)": lambda s, s1, s2: position(s1, 0.2) < position(s, 0.2),
    "state, horizon 0 (all four variables; the default)": lambda s, s1, s2: state(s1) < state(s),
}

rng = np.random.RandomState(0)
print(f"{'teacher':55s}" + "".join(f"  eps={eps:<4}" for eps in (1.0, 0.5, 0.2)))
rows = {name: [] for name in TEACHERS}
for eps in (1.0, 0.5, 0.2):
    steps = []
    for episode in range(200):
        s, _ = env.reset(seed=episode)
        trajectory, actions = [s], []
        while True:
            a = rng.randint(2) if rng.rand() < eps else oracle(s)
            s, _, terminated, truncated, _ = env.step(a)
            trajectory.append(s)
            actions.append(a)
            if terminated or truncated:
                break
        steps += [(trajectory[t], actions[t], trajectory[t + 1], trajectory[t + 2]) for t in range(len(actions) - 1)]
    for name, worse in TEACHERS.items():
        agree = [(1 - a if worse(s, s1, s2) else a) == oracle(s) for s, a, s1, s2 in steps]
        rows[name].append(np.mean(agree))
for name, values in rows.items():
    print(f"{name:55s}" + "".join(f"  {v:8.3f}" for v in values))
