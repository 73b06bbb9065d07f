import type { Handler } from "palisade";

interface Order {
  orderId: string;
  amount: number;
  currency: string;
}

/** Charges an order (simulated) and announces the payment. */
export default (async (event, ctx) => {
  const order = event.data as Order;
  ctx.log.info("charging order", { orderId: order.orderId, amount: order.amount });
  await ctx.emit("payment.charged", {
    orderId: order.orderId,
    amount: order.amount,
    currency: order.currency,
  });
}) satisfies Handler<"order.created">;
