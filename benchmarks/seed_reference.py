"""The reference script (../shared/seed/), as a whole process to time against `bench run`.

Wolfgang Beyer's softmax classifier, ported only as far as TensorFlow 2 requires
(`tf.compat.v1` with eager execution disabled, as a TF1 script runs), loading the
python-version pickles the way its data_helpers.py does (float64, per-pixel mean).

    python benchmarks/seed_reference.py CIFAR10_DIR [SEED]
"""

from __future__ import annotations

import os
import pickle
import sys
import time

import numpy as np

begin = time.time()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()


def load_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as handle:
        data = pickle.load(handle, encoding="latin1")  # trusted, md5-verified official files
    return data["data"].astype(float), np.array(data["labels"])


root = os.path.join(sys.argv[1], "cifar-10-batches-py")
if len(sys.argv) > 2:
    np.random.seed(int(sys.argv[2]))
parts = [load_batch(os.path.join(root, f"data_batch_{i}")) for i in range(1, 6)]
images_train = np.concatenate([p[0] for p in parts])
labels_train = np.concatenate([p[1] for p in parts])
images_test, labels_test = load_batch(os.path.join(root, "test_batch"))
mean_image = np.mean(images_train, axis=0)
images_train -= mean_image
images_test -= mean_image

batch_size, learning_rate, max_steps = 100, 0.005, 1000
images_placeholder = tf.compat.v1.placeholder(tf.float32, shape=[None, 3072])
labels_placeholder = tf.compat.v1.placeholder(tf.int64, shape=[None])
weights = tf.Variable(tf.zeros([3072, 10]))
biases = tf.Variable(tf.zeros([10]))
logits = tf.matmul(images_placeholder, weights) + biases
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=labels_placeholder))
train_step = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss)
correct_prediction = tf.equal(tf.argmax(logits, 1), labels_placeholder)
accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    for i in range(max_steps):
        indices = np.random.choice(images_train.shape[0], batch_size)
        images_batch = images_train[indices]
        labels_batch = labels_train[indices]
        if i % 100 == 0:
            train_accuracy = sess.run(
                accuracy, feed_dict={images_placeholder: images_batch, labels_placeholder: labels_batch}
            )
            print(f"Step {i:5d}: training accuracy {train_accuracy:g}")
        sess.run(train_step, feed_dict={images_placeholder: images_batch, labels_placeholder: labels_batch})
    test_accuracy = sess.run(accuracy, feed_dict={images_placeholder: images_test, labels_placeholder: labels_test})
    print(f"Test accuracy {test_accuracy:g}")
print(f"Total time: {time.time() - begin:5.2f}s")
