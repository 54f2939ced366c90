"""A function with a registered custom derivative, and a Keras layer calling it: the training
children use it to check that registered derivatives work across devices and processes."""

import keras
import tensorflow as tf

import swiftdiff as sd


def softsign(x):
    return x / (1.0 + tf.abs(x))


@sd.derivative(of=softsign)
def softsign_derivative(x):
    y = softsign(x)
    return y, lambda v: v / tf.square(1.0 + tf.abs(x))


class Softsign(keras.layers.Layer):
    def call(self, x):
        return softsign(x)
